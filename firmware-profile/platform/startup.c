// Reset and exception vectors of the pump firmware (Cortex-M4, QEMU mps2-an386).
#include <stdint.h>
#include <string.h>

extern uint32_t __data_start, __data_end, __data_load, __bss_start, __bss_end, __stack_top, __stack_limit;
extern int firmware_main(void);
extern void fw_systick_tick(void);
extern void fw_uart0_rx_irq(void);
extern void fw_platform_init(void);
extern void fw_fault(const char *what, uint32_t pc);
extern void fw_exit(int code);

// Painted at reset so that the deepest stack use can be measured afterwards.
#define STACK_PAINT 0xA5A5A5A5u

__attribute__((naked, noreturn)) void Reset_Handler(void) {
    __asm volatile(
        "ldr r0, =__stack_top\n"
        "mov sp, r0\n"
        "b fw_reset_c\n");
}

__attribute__((noreturn, used)) void fw_reset_c(void) {
    // Paint the stack below the current frame (a few words are in use already).
    uint32_t *sp;
    __asm volatile("mov %0, sp" : "=r"(sp));
    for (uint32_t *p = &__stack_limit; p < sp - 16; p++) *p = STACK_PAINT;
    memcpy(&__data_start, &__data_load, (uintptr_t)&__data_end - (uintptr_t)&__data_start);
    memset(&__bss_start, 0, (uintptr_t)&__bss_end - (uintptr_t)&__bss_start);
    fw_platform_init();
    fw_exit(firmware_main());
    for (;;) {}
}

// Every fault ends the run with the faulting PC (from the exception frame on the main stack):
// the footprint and the demo must never pass over a crash.
__attribute__((used)) const char fault_text[] = "fault";
__attribute__((naked)) void Fault_Handler(void) {
    __asm volatile(
        "mrs r1, msp\n"
        "ldr r1, [r1, #24]\n"
        "ldr r0, =fault_text\n"
        "b fw_fault\n");
}

void SysTick_Handler(void) { fw_systick_tick(); }

__attribute__((section(".vectors"), used)) void (*const vector_table[17])(void) = {
    (void (*)(void))(&__stack_top),
    Reset_Handler,
    Fault_Handler,  // NMI
    Fault_Handler,  // HardFault
    Fault_Handler,  // MemManage
    Fault_Handler,  // BusFault
    Fault_Handler,  // UsageFault
    0, 0, 0, 0,
    Fault_Handler,  // SVC
    Fault_Handler,  // DebugMon
    0,
    Fault_Handler,  // PendSV
    SysTick_Handler,
    fw_uart0_rx_irq,  // IRQ 0: UART0 receive (the relay link)
};
