/*
 * kzram.h - borrow kernel zram (/dev/zram0) for a benchmark and give it back.
 *
 * Only an unused device (initstate 0) is claimed. Once claimed, it is reset
 * on every way out: kzram_release(), exit() (atexit), and the fatal signals
 * (the handler closes the open device, resets, and re-raises). One device
 * per process; not thread-safe (claim and release from the main thread).
 */
#ifndef UZRAM_TOOLS_KZRAM_H
#define UZRAM_TOOLS_KZRAM_H

#include <stdint.h>

/*
 * kzram_claim - set up /dev/zram0 with @algo and @disksize bytes.
 * Returns 0; -ENODEV if there is no zram0, -EBUSY if it is in use, or
 * -errno of the failing sysfs write (the device is reset again). On error
 * *@why names the problem.
 */
int kzram_claim(const char *algo, uint64_t disksize, const char **why);

/* kzram_open - open the claimed device; returns the fd or -errno. The fd is
 * closed by kzram_close() or, on a signal, before the reset. */
int kzram_open(int flags);
void kzram_close(int fd);

/* kzram_mm_stat - read the 9 mm_stat columns. Returns 0 or -errno. */
int kzram_mm_stat(uint64_t mm[9]);

/* kzram_release - close the device if open and reset it. Idempotent. */
void kzram_release(void);

#endif
