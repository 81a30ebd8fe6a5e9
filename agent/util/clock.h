/*
 * clock.h - the monotonic clock, for deadlines and elapsed times (never the wall clock, which
 * an NTP step can move back).
 */
#ifndef MI_CLOCK_H
#define MI_CLOCK_H

/* Milliseconds since an arbitrary fixed point. */
long mi_clock_ms(void);

#endif
