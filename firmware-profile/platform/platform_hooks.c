// Platform hooks of the pump firmware on QEMU mps2-an386: what Embedded Swift, newlib-nano
// and mbedTLS need from the board, and the measurements of the footprint report.
#include "platform.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <time.h>

// ---- UARTs (CMSDK APB UART) ----------------------------------------------------------------
#define UART0 0x40004000u  // the relay link
#define UART1 0x40005000u  // the log
#define REG(base, off) (*(volatile uint32_t *)((base) + (off)))
#define UART_DATA 0x00
#define UART_STATE 0x04  // bit 0 TX full, bit 1 RX full
#define UART_CTRL 0x08   // bit 0 TX enable, bit 1 RX enable
#define UART_BAUDDIV 0x10

static void uart_init(uint32_t base) {
    REG(base, UART_BAUDDIV) = 16;  // QEMU refuses to move bytes with a divisor under 16
    REG(base, UART_CTRL) = 0x3;
}

static void uart_put(uint32_t base, uint8_t byte) {
    while (REG(base, UART_STATE) & 1u) {}
    REG(base, UART_DATA) = byte;
}

void fw_link_write(const uint8_t *bytes, size_t count) {
    for (size_t i = 0; i < count; i++) uart_put(UART0, bytes[i]);
}

// The link's receive side is interrupt-driven: the UART holds one byte, so the RX interrupt
// moves each byte into this ring at once, and the reader sleeps (WFI) while the ring is empty.
// Sleeping matters beyond power: under QEMU's -icount the emulated clock follows the host's
// only while the CPU sleeps, and the pump's clock must stay true for command lifetimes.
#define RING_SIZE 2048u
static volatile uint8_t ring[RING_SIZE];
static volatile uint32_t ring_head, ring_tail;  // written by the interrupt / by the reader
static volatile uint32_t ring_overflows;

void fw_uart0_rx_irq(void) {
    // Clear first, then drain: a byte landing after the last read sets the flag again and
    // interrupts anew. (Cleared last, such a byte would sit in DATA with no interrupt to come,
    // and QEMU delivers nothing more while DATA is full: the link would stall.)
    REG(UART0, 0x0C) = 2u;  // INTSTATUS: clear RX
    while (REG(UART0, UART_STATE) & 2u) {
        uint8_t byte = (uint8_t)REG(UART0, UART_DATA);
        uint32_t next = (ring_head + 1u) % RING_SIZE;
        if (next == ring_tail) {
            ring_overflows++;  // the reader is too slow; TLS will fail closed on the gap
        } else {
            ring[ring_head] = byte;
            ring_head = next;
        }
    }
}

size_t fw_link_read(uint8_t *bytes, size_t capacity, uint32_t timeout_ms, uint32_t idle_ms) {
    size_t n = 0;
    uint64_t deadline = fw_uptime_ms() + timeout_ms;
    while (n < capacity) {
        if (ring_tail != ring_head) {
            bytes[n++] = ring[ring_tail];
            ring_tail = (ring_tail + 1u) % RING_SIZE;
            deadline = fw_uptime_ms() + idle_ms;
        } else if (fw_uptime_ms() >= deadline) {
            break;
        } else {
            __asm volatile("wfi");  // woken by the next byte or the next tick
        }
    }
    return n;
}

void fw_log(const uint8_t *text, size_t count) {
    for (size_t i = 0; i < count; i++) uart_put(UART1, text[i]);
}

// Embedded Swift's print() ends in putchar.
int putchar(int c) {
    uart_put(UART1, (uint8_t)c);
    return c;
}

// ---- Clock: SysTick at the board's 25 MHz, 10 ms ticks -----------------------------------------
// 10 ms rather than 1 ms: under -icount every wake-up from WFI costs host time that the emulated
// clock does not see, so fewer wake-ups keep the pump's clock closer to the gateway's.
#define SYST_CSR (*(volatile uint32_t *)0xE000E010u)
#define SYST_RVR (*(volatile uint32_t *)0xE000E014u)
#define SYST_CVR (*(volatile uint32_t *)0xE000E018u)
#define SYSCLK_HZ 25000000u
#define TICK_MS 10u
#define TICK_RELOAD (SYSCLK_HZ / 1000u * TICK_MS - 1u)

static volatile uint64_t uptime_ms;

void fw_systick_tick(void) { uptime_ms += TICK_MS; }

uint64_t fw_uptime_ms(void) { return uptime_ms; }

uint64_t fw_virtual_ns(void) {
    uint64_t ms;
    uint32_t value;
    do {  // a tick between the two reads would pair an old count with a new value
        ms = uptime_ms;
        value = SYST_CVR;
    } while (ms != uptime_ms);
    return ms * 1000000u + (uint64_t)(TICK_RELOAD - value) * (1000000000u / SYSCLK_HZ);
}

// ---- Provisioning blob (loaded by QEMU's `-device loader` into PSRAM) ------------------------
// | 0 | 4 "MTFW" | 4 | u32 string count | 8 | i64 Unix ms at start | 16 | 32 bytes test seed |
// | 48 | the strings, each NUL-terminated |
#define BLOB ((const uint8_t *)0x21000000u)
static int64_t provisioned_ms;

static int blob_valid(void) { return memcmp(BLOB, "MTFW", 4) == 0; }

const uint8_t *fw_provision_string(int index, size_t *length) {
    if (!blob_valid()) return NULL;
    uint32_t count;
    memcpy(&count, BLOB + 4, 4);
    if (index < 0 || (uint32_t)index >= count) return NULL;
    const uint8_t *p = BLOB + 48;
    for (int i = 0; i < index; i++) p += strlen((const char *)p) + 1;
    *length = strlen((const char *)p);
    return p;
}

int64_t fw_now_ms(void) { return provisioned_ms + (int64_t)uptime_ms; }

// newlib's time() and gettimeofday() (mbedTLS checks certificate validity with them).
int _gettimeofday(struct timeval *tv, void *tz) {
    (void)tz;
    int64_t now = fw_now_ms();
    tv->tv_sec = (time_t)(now / 1000);
    tv->tv_usec = (suseconds_t)((now % 1000) * 1000);
    return 0;
}

// mbedTLS' calendar conversion for certificate validity (MBEDTLS_PLATFORM_GMTIME_R_ALT): newlib's
// reentrant gmtime_r. mbedTLS does not take newlib for POSIX and would call gmtime, whose
// reentrancy assert brings newlib's printf family (about 5 KiB of flash) along.
struct tm *mbedtls_platform_gmtime_r(const time_t *tt, struct tm *tm_buf) { return gmtime_r(tt, tm_buf); }

// ---- Entropy: TEST-ONLY --------------------------------------------------------------------
// QEMU's mps2-an386 has no TRNG. This generator mixes the per-run seed of the provisioning
// blob with the SysTick counter through xorshift: good enough to run the protocol in an
// emulator, NOT a source of secrets. A real pump replaces fw_test_entropy with its TRNG
// (and mbedtls_hardware_poll keeps its signature). Acknowledgement signatures do not depend
// on it (RFC 6979), but the ECDHE keys of every handshake do.
static uint64_t test_entropy_state = 0x9E3779B97F4A7C15ull;

static void fw_test_entropy(uint8_t *out, size_t count) {
    for (size_t i = 0; i < count; i++) {
        test_entropy_state ^= SYST_CVR;
        test_entropy_state ^= test_entropy_state << 13;
        test_entropy_state ^= test_entropy_state >> 7;
        test_entropy_state ^= test_entropy_state << 17;
        out[i] = (uint8_t)(test_entropy_state >> 24);
    }
}

void fw_test_random(uint8_t *out, size_t count) { fw_test_entropy(out, count); }

int mbedtls_hardware_poll(void *data, unsigned char *output, size_t len, size_t *olen) {
    (void)data;
    fw_test_entropy(output, len);
    *olen = len;
    return 0;
}

// The Swift runtime seeds Hasher and SystemRandomNumberGenerator with it.
void arc4random_buf(void *buf, size_t nbytes) { fw_test_entropy(buf, nbytes); }

// ---- Stack protector -------------------------------------------------------------------------
uintptr_t __stack_chk_guard = 0x595e9fbdu;
void __stack_chk_fail(void) {
    static const char text[] = "stack smashing detected";
    fw_fault(text, 0);
}

// ---- Heap: newlib-nano's allocator behind a counting wrapper ---------------------------------
// Every block carries 8 bytes in front of it: the pointer the real allocator returned and the
// size asked for, so free() finds both and posix_memalign (which newlib-nano lacks and the
// Swift runtime wants) can hand out any alignment.
extern uint8_t __heap_start, __heap_end;
static uint8_t *heap_break = &__heap_start;
static size_t heap_in_use, heap_peak;

void *_sbrk(ptrdiff_t increment) {
    if (heap_break + increment > &__heap_end) {
        errno = ENOMEM;
        return (void *)-1;
    }
    uint8_t *previous = heap_break;
    heap_break += increment;
    return previous;
}

extern void *__real_malloc(size_t);
extern void __real_free(void *);

typedef struct {
    void *raw;
    size_t size;
} block_header;

static void *counted(void *raw, uintptr_t aligned, size_t size) {
    block_header *header = (block_header *)(aligned - sizeof(block_header));
    header->raw = raw;
    header->size = size;
    heap_in_use += size;
    if (heap_in_use > heap_peak) heap_peak = heap_in_use;
    return (void *)aligned;
}

static void *aligned_alloc_counted(size_t alignment, size_t size) {
    if (alignment < 8) alignment = 8;
    uint8_t *raw = __real_malloc(size + alignment + sizeof(block_header));
    if (raw == NULL) return NULL;
    uintptr_t aligned = ((uintptr_t)raw + sizeof(block_header) + alignment - 1) & ~(uintptr_t)(alignment - 1);
    return counted(raw, aligned, size);
}

void *__wrap_malloc(size_t size) {
    uint8_t *raw = __real_malloc(size + sizeof(block_header));
    if (raw == NULL) return NULL;
    return counted(raw, (uintptr_t)raw + sizeof(block_header), size);
}

void __wrap_free(void *p) {
    if (p == NULL) return;
    block_header *header = (block_header *)p - 1;
    heap_in_use -= header->size;
    __real_free(header->raw);
}

void *__wrap_calloc(size_t count, size_t size) {
    if (size != 0 && count > SIZE_MAX / size) return NULL;
    void *p = __wrap_malloc(count * size);
    if (p != NULL) memset(p, 0, count * size);
    return p;
}

void *__wrap_realloc(void *p, size_t size) {
    if (p == NULL) return __wrap_malloc(size);
    block_header *header = (block_header *)p - 1;
    void *q = __wrap_malloc(size);
    if (q == NULL) return NULL;
    memcpy(q, p, header->size < size ? header->size : size);
    __wrap_free(p);
    return q;
}

int posix_memalign(void **out, size_t alignment, size_t size) {
    void *p = aligned_alloc_counted(alignment, size);
    if (p == NULL) return ENOMEM;
    *out = p;
    return 0;
}

void fw_heap_reset_peak(void) { heap_peak = heap_in_use; }
size_t fw_heap_peak(void) { return heap_peak; }
size_t fw_heap_in_use(void) { return heap_in_use; }
size_t fw_heap_break(void) { return (size_t)(heap_break - &__heap_start); }

// ---- Stack -----------------------------------------------------------------------------------
extern uint32_t __stack_limit, __stack_top;

size_t fw_stack_peak(void) {
    const uint32_t *p = &__stack_limit;
    while (p < &__stack_top && *p == 0xA5A5A5A5u) p++;
    return (size_t)((uintptr_t)&__stack_top - (uintptr_t)p);
}

// ---- State flash: two slots in the erased region of the linker script -------------------------
extern uint8_t __pump_flash_start[];
#define SLOT_SIZE 4096u

size_t fw_flash_slot_size(void) { return SLOT_SIZE; }

void fw_flash_read(int slot, size_t offset, uint8_t *out, size_t count) {
    memcpy(out, __pump_flash_start + (size_t)slot * SLOT_SIZE + offset, count);
}

int fw_flash_program(int slot, const uint8_t *bytes, size_t count) {
    if (slot < 0 || slot > 1 || count > SLOT_SIZE) return 0;
    uint8_t *base = __pump_flash_start + (size_t)slot * SLOT_SIZE;
    memset(base, 0xFF, SLOT_SIZE);  // erase
    memcpy(base, bytes, count);     // program
    return 1;
}

// ---- Exit and faults -------------------------------------------------------------------------
static void log_text(const char *text) { fw_log((const uint8_t *)text, strlen(text)); }

static void log_hex(uint32_t value) {
    char text[11] = "0x";
    for (int i = 0; i < 8; i++) text[2 + i] = "0123456789abcdef"[(value >> (28 - 4 * i)) & 0xF];
    text[10] = 0;
    log_text(text);
}

void fw_exit(int code) {
    // Semihosting SYS_EXIT_EXTENDED: QEMU exits with `code` (needs -semihosting-config enable=on).
    uint32_t block[2] = {0x20026u /* ADP_Stopped_ApplicationExit */, (uint32_t)code};
    register uint32_t r0 __asm("r0") = 0x20;
    register uint32_t r1 __asm("r1") = (uint32_t)block;
    __asm volatile("bkpt 0xAB" : "+r"(r0) : "r"(r1) : "memory");
    for (;;) {}  // without semihosting the CPU halts here
}

void fw_fault(const char *what, uint32_t pc) {
    log_text("\nFIRMWARE FAULT: ");
    log_text(what);
    log_text(" at pc ");
    log_hex(pc);
    log_text("\n");
    fw_exit(70);
}

void _exit(int code) { fw_exit(code); }

void fw_platform_init(void) {
    uart_init(UART0);
    uart_init(UART1);
    REG(UART0, UART_CTRL) = 0x3u | 0x8u;      // TX, RX and the RX interrupt
    *(volatile uint32_t *)0xE000E100u = 1u;   // NVIC ISER0: IRQ 0, UART0 RX on the AN386
    SYST_RVR = TICK_RELOAD;
    SYST_CVR = 0;
    SYST_CSR = 0x7;  // processor clock, interrupt, enable
    if (blob_valid()) {
        memcpy(&provisioned_ms, BLOB + 8, 8);
        uint64_t seed[4];
        memcpy(seed, BLOB + 16, 32);
        test_entropy_state ^= seed[0] ^ seed[1] ^ seed[2] ^ seed[3];
        if (test_entropy_state == 0) test_entropy_state = 1;
    }
}
