/*
 * cancel.h - cooperative cancellation on SIGTERM / SIGINT.
 *
 * A cancelled workflow sends SIGTERM, then SIGKILL after a grace period. The agent must use
 * that grace period to stop its child, release its lock and report. mi_cancel_install()
 * installs handlers that only set a flag (async-signal-safe); long-running loops (HTTP
 * transfers, waiting for terraform, waiting for a lock) poll mi_cancel_requested() and return
 * MI_ECANCELLED, so every cleanup path runs as on any other error.
 */
#ifndef MI_CANCEL_H
#define MI_CANCEL_H

/* Installs the SIGTERM and SIGINT handlers (idempotent). */
void mi_cancel_install(void);
/* The signal number that asked us to stop, or 0. */
int mi_cancel_requested(void);
/* Clears the flag: for tests, and for cleanup after cancellation (apply releases its lock
 * over HTTP, which would otherwise abort while the flag is set). */
void mi_cancel_reset(void);
/* Sleeps up to ms milliseconds, waking early on cancellation; returns MI_ECANCELLED then. */
int mi_cancel_sleep_ms(long ms);

#endif
