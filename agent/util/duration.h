/*
 * duration.h - durations as people write them in configuration and options: "7d", "36h",
 * "90m", "600s", or plain seconds "600".
 *
 * Rules: a positive whole number followed by at most one unit (d, h, m, s); nothing else
 * (no sign, no spaces, no fractions, no combinations like "1h30m"); at most 100 years.
 * Anything else is MI_EUSAGE with the text quoted. Words like "never" are the caller's.
 * Nothing here prints.
 */
#ifndef MI_DURATION_H
#define MI_DURATION_H

/* Parses text into seconds. */
int mi_duration_parse(long long *out_s, const char *text);

#endif
