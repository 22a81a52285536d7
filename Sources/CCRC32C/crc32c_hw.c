// Hardware CRC32C: one crc32 instruction per 8 bytes, a byte loop for the unaligned head
// and the tail. Written for PageStore's 4 KiB page checksums; see include/crc32c_hw.h.
#include "crc32c_hw.h"
#include <string.h>

#if defined(__x86_64__)

int flotilla_crc32c_hw_available(void) {
    __builtin_cpu_init();
    return __builtin_cpu_supports("sse4.2") ? 1 : 0;
}

__attribute__((target("sse4.2")))
uint32_t flotilla_crc32c_hw_update(uint32_t crc, const void *bytes, size_t count) {
    const unsigned char *p = bytes;
    uint64_t c = ~crc;
    while (count > 0 && ((uintptr_t)p & 7) != 0) {
        c = __builtin_ia32_crc32qi((uint32_t)c, *p);
        p++; count--;
    }
    while (count >= 8) {
        uint64_t word;
        memcpy(&word, p, 8);
        c = __builtin_ia32_crc32di(c, word);
        p += 8; count -= 8;
    }
    while (count > 0) {
        c = __builtin_ia32_crc32qi((uint32_t)c, *p);
        p++; count--;
    }
    return ~(uint32_t)c;
}

#elif defined(__aarch64__) && defined(__linux__)

#include <sys/auxv.h>
#ifndef HWCAP_CRC32
#define HWCAP_CRC32 (1 << 7)
#endif

int flotilla_crc32c_hw_available(void) {
    return (getauxval(AT_HWCAP) & HWCAP_CRC32) ? 1 : 0;
}

__attribute__((target("crc")))
uint32_t flotilla_crc32c_hw_update(uint32_t crc, const void *bytes, size_t count) {
    const unsigned char *p = bytes;
    uint32_t c = ~crc;
    while (count > 0 && ((uintptr_t)p & 7) != 0) {
        c = __builtin_arm_crc32cb(c, *p);
        p++; count--;
    }
    while (count >= 8) {
        uint64_t word;
        memcpy(&word, p, 8);
        c = __builtin_arm_crc32cd(c, word);
        p += 8; count -= 8;
    }
    while (count > 0) {
        c = __builtin_arm_crc32cb(c, *p);
        p++; count--;
    }
    return ~c;
}

#else

int flotilla_crc32c_hw_available(void) { return 0; }

uint32_t flotilla_crc32c_hw_update(uint32_t crc, const void *bytes, size_t count) {
    (void)bytes; (void)count;
    return crc;
}

#endif
