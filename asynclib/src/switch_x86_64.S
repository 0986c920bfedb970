/* Context switch for x86-64 System V (used by coro.c).
 *
 * A suspended context is just its stack pointer: everything the ABI says a
 * callee must preserve is pushed on the context's own stack. That set is
 * rbx, rbp, r12-r15, rsp, plus the control bits of MXCSR and the x87 control
 * word (rounding mode, exception masks), which the ABI also makes
 * callee-saved; the status bits travel with them, which is harmless.
 * Caller-saved registers are dead across the call by definition.
 *
 *   void al__ctx_swap(void **save_sp, void *load_sp);
 *   void *al__ctx_make(void *stack_top, void (*entry)(void *), void *arg);
 */
    .text

/* Frame layout, from the saved sp upwards (56 bytes + return address):
 *   0: MXCSR (4)  4: x87 CW (2)  8: r15  16: r14  24: r13  32: r12
 *  40: rbx  48: rbp  56: return address */
    .globl al__ctx_swap
    .hidden al__ctx_swap
    .type al__ctx_swap, @function
    .p2align 4
al__ctx_swap:
    .cfi_startproc
    pushq %rbp
    .cfi_adjust_cfa_offset 8
    pushq %rbx
    .cfi_adjust_cfa_offset 8
    pushq %r12
    .cfi_adjust_cfa_offset 8
    pushq %r13
    .cfi_adjust_cfa_offset 8
    pushq %r14
    .cfi_adjust_cfa_offset 8
    pushq %r15
    .cfi_adjust_cfa_offset 8
    subq $8, %rsp
    .cfi_adjust_cfa_offset 8
    stmxcsr (%rsp)
    fnstcw 4(%rsp)
    /* ldmxcsr and fldcw are slow (they serialise the FP pipeline), and
     * coroutines almost never change modes: load only what differs. The
     * MXCSR status flags (low 6 bits) are caller-saved: ignored. */
    movl (%rsi), %eax
    xorl (%rsp), %eax
    testl $0xffc0, %eax
    jz 1f
    ldmxcsr (%rsi)
1:  movzwl 4(%rsi), %eax
    cmpw 4(%rsp), %ax
    je 2f
    fldcw 4(%rsi)
2:  movq %rsp, (%rdi)
    /* From here on we run on the other context's stack; its CFA follows
     * the same layout, so the unwind info stays true. */
    movq %rsi, %rsp
    addq $8, %rsp
    .cfi_adjust_cfa_offset -8
    popq %r15
    .cfi_adjust_cfa_offset -8
    popq %r14
    .cfi_adjust_cfa_offset -8
    popq %r13
    .cfi_adjust_cfa_offset -8
    popq %r12
    .cfi_adjust_cfa_offset -8
    popq %rbx
    .cfi_adjust_cfa_offset -8
    popq %rbp
    .cfi_adjust_cfa_offset -8
    /* pop + jmp rather than ret: a ret here never matches the call that
     * pushed the return-stack-buffer entry (that call was on the other
     * stack), so it always mispredicts; the indirect jmp is predicted by
     * target history instead (~7 ns vs ~10.5 ns per switch here). */
    popq %rcx
    .cfi_adjust_cfa_offset -8
    .cfi_register rip, rcx
    jmp *%rcx
    .cfi_endproc
    .size al__ctx_swap, .-al__ctx_swap

/* First code run on a new stack: al__ctx_swap jumps here with the entry
 * in r13 and its argument in r12. entry never returns; if it did, ud2 traps
 * instead of running off into garbage. rip is marked undefined so unwinders
 * (gdb bt, libgcc, ASan) stop at this frame; rbp is 0 for frame-pointer
 * walkers. */
    .globl al__ctx_trampoline
    .hidden al__ctx_trampoline
    .type al__ctx_trampoline, @function
    .p2align 4
al__ctx_trampoline:
    .cfi_startproc
    .cfi_undefined rip
    movq %r12, %rdi
    callq *%r13
    ud2
    .cfi_endproc
    .size al__ctx_trampoline, .-al__ctx_trampoline

/* Builds the first frame on a fresh stack so that al__ctx_swap into it lands
 * in al__ctx_trampoline with rsp 16-byte aligned before its call, as the ABI
 * wants. The new context inherits the caller's MXCSR and x87 CW. Returns
 * the sp to pass to al__ctx_swap. */
    .globl al__ctx_make
    .hidden al__ctx_make
    .type al__ctx_make, @function
    .p2align 4
al__ctx_make:
    .cfi_startproc
    movq %rdi, %rax
    andq $-16, %rax
    movq $0, -8(%rax)           /* two zero words: a null return address */
    movq $0, -16(%rax)          /* above the trampoline, for naive walkers */
    leaq al__ctx_trampoline(%rip), %rcx
    movq %rcx, -24(%rax)        /* return address of al__ctx_swap */
    movq $0, -32(%rax)          /* rbp */
    movq $0, -40(%rax)          /* rbx */
    movq %rdx, -48(%rax)        /* r12: arg */
    movq %rsi, -56(%rax)        /* r13: entry */
    movq $0, -64(%rax)          /* r14 */
    movq $0, -72(%rax)          /* r15 */
    movq $0, -80(%rax)
    stmxcsr -80(%rax)
    fnstcw -76(%rax)
    subq $80, %rax
    ret
    .cfi_endproc
    .size al__ctx_make, .-al__ctx_make

    .section .note.GNU-stack,"",@progbits
