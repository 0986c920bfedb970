/* Context switch for AArch64 (AAPCS64, used by coro.c).
 *
 * A suspended context is its stack pointer; the callee-saved set is pushed
 * on the context's own stack: x19-x28, the frame pointer x29, the link
 * register x30 (where we resume), the low halves d8-d15 of v8-v15, and FPCR
 * (rounding mode, flush-to-zero: callee-saved like x86's MXCSR control).
 *
 *   void al__ctx_swap(void **save_sp, void *load_sp);
 *   void *al__ctx_make(void *stack_top, void (*entry)(void *), void *arg);
 *
 * Not tested on hardware here (x86-64 machine); checked by assembling with
 * clang --target=aarch64-linux-gnu.
 */
    .text

/* Frame layout (176 bytes, keeps sp 16-byte aligned):
 *   0: x19 x20  16: x21 x22  32: x23 x24  48: x25 x26  64: x27 x28
 *  80: x29 x30  96: d8 d9  112: d10 d11  128: d12 d13  144: d14 d15
 * 160: fpcr  168: pad */
    .globl al__ctx_swap
    .hidden al__ctx_swap
    .type al__ctx_swap, %function
    .p2align 4
al__ctx_swap:
    .cfi_startproc
    sub sp, sp, #176
    .cfi_adjust_cfa_offset 176
    stp x19, x20, [sp, #0]
    stp x21, x22, [sp, #16]
    stp x23, x24, [sp, #32]
    stp x25, x26, [sp, #48]
    stp x27, x28, [sp, #64]
    stp x29, x30, [sp, #80]
    stp d8, d9, [sp, #96]
    stp d10, d11, [sp, #112]
    stp d12, d13, [sp, #128]
    stp d14, d15, [sp, #144]
    mrs x9, fpcr
    str x9, [sp, #160]
    mov x9, sp
    str x9, [x0]
    mov sp, x1
    ldp x19, x20, [sp, #0]
    ldp x21, x22, [sp, #16]
    ldp x23, x24, [sp, #32]
    ldp x25, x26, [sp, #48]
    ldp x27, x28, [sp, #64]
    ldp x29, x30, [sp, #80]
    ldp d8, d9, [sp, #96]
    ldp d10, d11, [sp, #112]
    ldp d12, d13, [sp, #128]
    ldp d14, d15, [sp, #144]
    ldr x9, [sp, #160]
    msr fpcr, x9
    add sp, sp, #176
    .cfi_adjust_cfa_offset -176
    ret
    .cfi_endproc
    .size al__ctx_swap, .-al__ctx_swap

/* First code run on a new stack: entry in x20, its argument in x19. x30 is
 * marked undefined so unwinders stop here; x29 is 0 for frame-pointer
 * walkers. entry never returns; brk traps if it does. */
    .globl al__ctx_trampoline
    .hidden al__ctx_trampoline
    .type al__ctx_trampoline, %function
    .p2align 4
al__ctx_trampoline:
    .cfi_startproc
    .cfi_undefined x30
    mov x0, x19
    blr x20
    brk #0x3c
    .cfi_endproc
    .size al__ctx_trampoline, .-al__ctx_trampoline

/* Builds the first frame so that al__ctx_swap into it "returns" to the
 * trampoline with sp 16-byte aligned at the stack top. The new context
 * inherits the caller's FPCR. */
    .globl al__ctx_make
    .hidden al__ctx_make
    .type al__ctx_make, %function
    .p2align 4
al__ctx_make:
    .cfi_startproc
    and x0, x0, #~15
    sub x0, x0, #176
    stp x2, x1, [x0, #0]        /* x19 = arg, x20 = entry */
    stp xzr, xzr, [x0, #16]
    stp xzr, xzr, [x0, #32]
    stp xzr, xzr, [x0, #48]
    stp xzr, xzr, [x0, #64]
    adrp x9, al__ctx_trampoline
    add x9, x9, :lo12:al__ctx_trampoline
    stp xzr, x9, [x0, #80]      /* x29 = 0, x30 = trampoline */
    stp xzr, xzr, [x0, #96]
    stp xzr, xzr, [x0, #112]
    stp xzr, xzr, [x0, #128]
    stp xzr, xzr, [x0, #144]
    mrs x9, fpcr
    stp x9, xzr, [x0, #160]
    ret
    .cfi_endproc
    .size al__ctx_make, .-al__ctx_make

    .section .note.GNU-stack,"",@progbits
