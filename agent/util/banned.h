/*
 * banned.h - libc calls our own code must not use (after git's banned.h).
 *
 * Included last (after system headers) by any file that wants the check at compile time;
 * tests/scripts/test_banned.sh enforces the same list over all of agent/ in the test suite.
 * Each name below is replaced by an undeclared identifier, so a use fails to compile.
 * Use mi_buf (buf.h) for text, snprintf for bounded formatting, strtol/strtoull with
 * end-pointer checks for numbers, strtok_r only where a copy is being split.
 */
#ifndef MI_BANNED_H
#define MI_BANNED_H

#define BANNED(func) sorry_##func##_is_a_banned_function

#undef strcpy
#define strcpy(x, y) BANNED(strcpy)
#undef strcat
#define strcat(x, y) BANNED(strcat)
#undef strncpy
#define strncpy(x, y, n) BANNED(strncpy)
#undef strncat
#define strncat(x, y, n) BANNED(strncat)
#undef sprintf
#define sprintf(...) BANNED(sprintf)
#undef vsprintf
#define vsprintf(...) BANNED(vsprintf)
#undef strtok
#define strtok(x, y) BANNED(strtok)
#undef atoi
#define atoi(x) BANNED(atoi)
#undef atol
#define atol(x) BANNED(atol)
#undef gets
#define gets(x) BANNED(gets)
#undef system
#define system(x) BANNED(system)
#undef popen
#define popen(x, y) BANNED(popen)

#endif
