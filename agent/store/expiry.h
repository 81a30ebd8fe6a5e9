/*
 * expiry.h - how old a sealed plan may be when it is applied (default 7 days). A plan made a
 * week ago was reviewed against a world that has moved on (provider versions, drift, other
 * merges), so apply refuses it and asks for a fresh plan. `mlinfra store prune` removes the
 * same plans with mi_store_prune's older_than_s set to the same age, by the same rule: a
 * plan is expired when now - created_at > max age.
 *
 * Rules:
 *  - Pure functions: the clock is a parameter (now_s, seconds since the epoch), so callers
 *    pass time(NULL) and tests pass any instant.
 *  - created_at is the binding's "YYYY-MM-DDTHH:MM:SSZ" (store/seal.h). An unreadable time,
 *    or one more than MI_EXPIRY_MAX_SKEW_S ahead of the clock, is refused (MI_EREFUSED): a
 *    plan whose age cannot be told is not applied.
 *  - max_age_s: 0 means MI_EXPIRY_DEFAULT_MAX_AGE_S; negative means plans never expire.
 *  - Nothing here prints or reads the environment.
 */
#ifndef MI_STORE_EXPIRY_H
#define MI_STORE_EXPIRY_H

#include "util/buf.h"

#define MI_EXPIRY_DEFAULT_MAX_AGE_S (7LL * 24 * 3600)
/* Runners' clocks disagree a little; a plan "made" further in the future than this is not. */
#define MI_EXPIRY_MAX_SKEW_S (10LL * 60)

struct mi_expiry {
    long long created_s; /* created_at in seconds since the epoch */
    long long age_s;     /* now - created (negative within the allowed skew) */
    long long max_age_s; /* the limit applied; negative: none */
    int expired;
};

/* Works out the plan's age. 0 with *out filled (expired or not), or MI_EREFUSED for an
 * unreadable or future created_at. */
int mi_expiry_check(struct mi_expiry *out, const char *created_at, long long max_age_s,
                    long long now_s);

/* mi_expiry_check, then MI_EREFUSED for an expired plan with the message apply shows:
 * "the plan for environment 'dev' of pull request #12 (commit 1a2b3c4) was made 8 days ago
 * (2025-01-01T10:00:00Z); plans older than 7 days are not applied: re-plan by pushing a
 * commit to the pull request or re-running its plan job". 0 for a fresh plan. */
int mi_expiry_enforce(const char *created_at, long long max_age_s, long long now_s,
                      const char *environment, long long pr, const char *head_sha);

/* "8 days", "1 day 3 hours", "5 hours", "12 minutes", "40 seconds". */
void mi_expiry_format_age(mi_buf *out, long long seconds);

/* A maximum age as configured: a duration (util/duration.h: "7d", "36h", "90m", "600s",
 * "600") or "never" (-1). MI_EUSAGE naming the value otherwise. */
int mi_expiry_parse_duration(long long *out, const char *text);

#endif
