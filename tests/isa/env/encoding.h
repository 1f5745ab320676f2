/* Constants shared by the assembly and C tests: privilege levels, trap
 * causes, CSR bit fields, page-table and PMP encodings.  Plain #defines
 * only, so that the assembler can use them too. */
#ifndef KEEL_ISA_ENCODING_H
#define KEEL_ISA_ENCODING_H

#define PRIV_U 0
#define PRIV_S 1
#define PRIV_M 3

/* mcause / scause values (exceptions) */
#define CAUSE_FETCH_MISALIGNED 0
#define CAUSE_FETCH_ACCESS 1
#define CAUSE_ILLEGAL 2
#define CAUSE_BREAKPOINT 3
#define CAUSE_LOAD_MISALIGNED 4
#define CAUSE_LOAD_ACCESS 5
#define CAUSE_STORE_MISALIGNED 6
#define CAUSE_STORE_ACCESS 7
#define CAUSE_ECALL_U 8
#define CAUSE_ECALL_S 9
#define CAUSE_ECALL_M 11
#define CAUSE_FETCH_PAGE_FAULT 12
#define CAUSE_LOAD_PAGE_FAULT 13
#define CAUSE_STORE_PAGE_FAULT 15

/* interrupt numbers (mcause with the top bit set, and mip/mie bits) */
#define IRQ_S_SOFT 1
#define IRQ_M_SOFT 3
#define IRQ_S_TIMER 5
#define IRQ_M_TIMER 7
#define IRQ_S_EXT 9
#define IRQ_M_EXT 11
#define INTR_CAUSE(n) (0x8000000000000000 | (n))

#define MIP_SSIP (1 << IRQ_S_SOFT)
#define MIP_MSIP (1 << IRQ_M_SOFT)
#define MIP_STIP (1 << IRQ_S_TIMER)
#define MIP_MTIP (1 << IRQ_M_TIMER)
#define MIP_SEIP (1 << IRQ_S_EXT)
#define MIP_MEIP (1 << IRQ_M_EXT)

#define MSTATUS_SIE 0x2
#define MSTATUS_MIE 0x8
#define MSTATUS_SPIE 0x20
#define MSTATUS_UBE 0x40
#define MSTATUS_MPIE 0x80
#define MSTATUS_SPP 0x100
#define MSTATUS_VS 0x600
#define MSTATUS_MPP 0x1800
#define MSTATUS_MPP_S 0x0800
#define MSTATUS_MPP_M 0x1800
#define MSTATUS_FS 0x6000
#define MSTATUS_FS_INITIAL 0x2000
#define MSTATUS_FS_CLEAN 0x4000
#define MSTATUS_FS_DIRTY 0x6000
#define MSTATUS_XS 0x18000
#define MSTATUS_MPRV 0x20000
#define MSTATUS_SUM 0x40000
#define MSTATUS_MXR 0x80000
#define MSTATUS_TVM 0x100000
#define MSTATUS_TW 0x200000
#define MSTATUS_TSR 0x400000
#define MSTATUS_UXL 0x300000000
#define MSTATUS_SXL 0xC00000000
#define MSTATUS_SD 0x8000000000000000

/* The bits of mstatus that sstatus shows (privileged spec 1.12, RV64). */
#define SSTATUS_MASK (MSTATUS_SIE | MSTATUS_SPIE | MSTATUS_UBE | MSTATUS_SPP | MSTATUS_VS | \
		      MSTATUS_FS | MSTATUS_XS | MSTATUS_SUM | MSTATUS_MXR | MSTATUS_UXL | MSTATUS_SD)

/* RV64 + I M A F D C + S + U, MXL=2 */
#define MISA_RV64GC_SU 0x800000000014112d

/* fflags */
#define FF_NX 0x01
#define FF_UF 0x02
#define FF_OF 0x04
#define FF_DZ 0x08
#define FF_NV 0x10

/* rounding modes */
#define RM_RNE 0
#define RM_RTZ 1
#define RM_RDN 2
#define RM_RUP 3
#define RM_RMM 4
#define RM_DYN 7

/* satp */
#define SATP_MODE_BARE 0
#define SATP_MODE_SV39 8
#define SATP_MODE_SV48 9
#define SATP_MODE_SV57 10
#define SATP_MODE_SHIFT 60

/* page-table entries */
#define PTE_V 0x001
#define PTE_R 0x002
#define PTE_W 0x004
#define PTE_X 0x008
#define PTE_U 0x010
#define PTE_G 0x020
#define PTE_A 0x040
#define PTE_D 0x080
#define PTE_PPN_SHIFT 10

/* pmpcfg bytes */
#define PMP_R 0x01
#define PMP_W 0x02
#define PMP_X 0x04
#define PMP_OFF 0x00
#define PMP_TOR 0x08
#define PMP_NA4 0x10
#define PMP_NAPOT 0x18
#define PMP_L 0x80

/* CSR numbers the assembler may not know by name */
#define CSR_MENVCFG 0x30a
#define CSR_SENVCFG 0x10a
#define CSR_STIMECMP 0x14d
#define CSR_MCOUNTINHIBIT 0x320

/* The environment's trap-handling modes (see README.md). */
#define TRAP_FATAL 0	/* an exception is a test failure */
#define TRAP_RESUME 1	/* resume at trap_x.resume in the handler's mode, once */
#define TRAP_SKIP 2	/* step over the trapping instruction, stay in that mode */

/* Layout of struct trap_level (env/ctest.h), for assembly. */
#define TL_MODE 0
#define TL_RESUME 8
#define TL_COUNT 16
#define TL_CAUSE 24
#define TL_EPC 32
#define TL_TVAL 40
#define TL_STATUS 48
#define TL_SLOT 56
#define TL_PRIV 64

/* Layout of the register frame the trap entry code saves. */
#define FRAME_CAUSE (32 * 8)
#define FRAME_EPC (33 * 8)
#define FRAME_TVAL (34 * 8)
#define FRAME_STATUS (35 * 8)
#define FRAME_SLOT (36 * 8)
#define FRAME_SIZE (38 * 8)

/* The value the probes return when the probed code ran to its ecall. */
#define NO_TRAP (-1)

#endif
