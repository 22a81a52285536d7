#ifndef FLOTILLA_CRC32C_HW_H
#define FLOTILLA_CRC32C_HW_H

#include <stddef.h>
#include <stdint.h>

/// Hardware CRC32C (SSE4.2 `crc32` on x86-64, the ARMv8 CRC extension on AArch64) for
/// PageStore's page checksums. Same conventions as Base's software `CRC32C.update`: `crc`
/// is a finished CRC32C of earlier bytes (or 0), the result is the finished CRC32C of
/// those bytes followed by `bytes`.

/// 1 if this CPU has the instructions, else 0 (then `flotilla_crc32c_hw_update` must not be called).
int flotilla_crc32c_hw_available(void);

/// Continues `crc` over `count` bytes at `bytes` with the CPU's CRC32C instructions.
uint32_t flotilla_crc32c_hw_update(uint32_t crc, const void *bytes, size_t count);

#endif
