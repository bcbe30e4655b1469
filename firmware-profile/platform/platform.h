// The platform hooks the pump firmware's Swift main calls (platform_hooks.c): the link UART,
// the log UART, the clock, the provisioning blob, the flash slots and the measurements.
#ifndef MEDTUNNEL_FIRMWARE_PLATFORM_H
#define MEDTUNNEL_FIRMWARE_PLATFORM_H

#include <stddef.h>
#include <stdint.h>

/// Writes `count` bytes to the relay link (UART0, wired by QEMU to the relay's pump port).
void fw_link_write(const uint8_t *bytes, size_t count);
/// Reads what the link has, waiting at most `timeout_ms` for the first byte and then
/// `idle_ms` for each next one; returns the count (0 on time-out).
size_t fw_link_read(uint8_t *bytes, size_t capacity, uint32_t timeout_ms, uint32_t idle_ms);
/// A line of progress to the log UART (UART1); never key material.
void fw_log(const uint8_t *text, size_t count);

/// Wall-clock time in Unix milliseconds: the provisioned time plus the SysTick uptime.
int64_t fw_now_ms(void);
/// Milliseconds since reset.
uint64_t fw_uptime_ms(void);
/// The emulated time in nanoseconds since reset (SysTick at 25 MHz). Under QEMU's
/// `-icount shift=0` one guest instruction is one nanosecond: a count of instructions.
uint64_t fw_virtual_ns(void);

/// The `index`th NUL-terminated string of the provisioning blob (serial, server name, CA PEM,
/// pump certificate PEM, pump key PEM, command key PEM), or NULL.
const uint8_t *fw_provision_string(int index, size_t *length);

/// TEST-ONLY random bytes (QEMU has no TRNG; see platform_hooks.c): the pairing nonce.
void fw_test_random(uint8_t *out, size_t count);

/// The state flash: two slots of `fw_flash_slot_size()` bytes.
size_t fw_flash_slot_size(void);
void fw_flash_read(int slot, size_t offset, uint8_t *out, size_t count);
int fw_flash_program(int slot, const uint8_t *bytes, size_t count);

/// Heap measurement (every malloc of Swift, mbedTLS and newlib goes through the counter).
void fw_heap_reset_peak(void);
size_t fw_heap_peak(void);
size_t fw_heap_in_use(void);
/// The highest address the heap (sbrk) ever reached, as bytes above the heap start.
size_t fw_heap_break(void);
/// The deepest stack use since reset, from the painted stack.
size_t fw_stack_peak(void);

/// Ends the emulation with `code` (semihosting SYS_EXIT_EXTENDED).
void fw_exit(int code) __attribute__((noreturn));
/// Logs a fault with its program counter and ends the emulation with code 70.
void fw_fault(const char *what, uint32_t pc) __attribute__((noreturn));

#endif
