#include "util/cancel.h"

#include <errno.h>
#include <signal.h>
#include <string.h>
#include <time.h>

#include "util/error.h"

static volatile sig_atomic_t cancel_signal;

static void on_signal(int sig)
{
    cancel_signal = sig;
}

void mi_cancel_install(void)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = on_signal;
    sigemptyset(&sa.sa_mask);
    /* No SA_RESTART: blocking calls return EINTR so loops notice the flag promptly. */
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);
}

int mi_cancel_requested(void)
{
    return cancel_signal;
}

void mi_cancel_reset(void)
{
    cancel_signal = 0;
}

int mi_cancel_sleep_ms(long ms)
{
    while (ms > 0) {
        if (cancel_signal)
            return mi_error_set(MI_ECANCELLED, "cancelled by signal %d", (int)cancel_signal);
        long step = ms > 100 ? 100 : ms;
        struct timespec ts = {step / 1000, (step % 1000) * 1000000L};
        while (nanosleep(&ts, &ts) < 0 && errno == EINTR && !cancel_signal)
            ;
        ms -= step;
    }
    if (cancel_signal)
        return mi_error_set(MI_ECANCELLED, "cancelled by signal %d", (int)cancel_signal);
    return 0;
}
