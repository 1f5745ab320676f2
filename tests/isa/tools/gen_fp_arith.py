"""Generates rv64f-arith.S, rv64d-arith.S and rv64zfh-arith.S (case lines
checked against the exact model in fpref.py).  Run from anywhere:

    python3 tests/isa/tools/gen_fp_arith.py

and commit the regenerated files."""
import os
import sys
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from fpref import *  # noqa: E402,F403
from fractions import Fraction as Fr

RMS = [('rne', RNE), ('rtz', RTZ), ('rdn', RDN), ('rup', RUP), ('rmm', RMM)]

def consts(f):
    c = {}
    c['0'] = 0; c['-0'] = f.sign
    c['inf'] = f.inf; c['-inf'] = f.sign | f.inf
    c['qnan'] = f.qnan; c['-qnan'] = f.sign | f.qnan
    c['qnanp'] = f.qnan | 0x123  # quiet with payload
    c['snan'] = f.inf | 1 | 0x50
    c['-snan'] = f.sign | f.inf | 1
    c['minsub'] = 1; c['-minsub'] = f.sign | 1
    c['maxsub'] = (1 << f.m) - 1
    c['minnorm'] = 1 << f.m; c['-minnorm'] = f.sign | (1 << f.m)
    c['max'] = f.maxfin; c['-max'] = f.sign | f.maxfin
    return c

def val(f, x):
    """x: float, or a constant name, or ('pow2', k), or ('frac', Fraction)"""
    if isinstance(x, str): return consts(f)[x]
    if isinstance(x, tuple):
        if x[0] == 'pow2':
            b, fl = encode_finite(f, 0, Fr(2) ** x[1], RNE); assert fl == 0; return b
        if x[0] == 'frac':
            v = Fr(x[1]); b, fl = encode_finite(f, 1 if v < 0 else 0, abs(v), RNE); assert fl == 0, x; return b
        if x[0] == 'bits': return x[1]
    b, fl = encode_finite(f, 1 if x < 0 or (x == 0 and str(x).startswith('-')) else 0, abs(Fr(x)), RNE)
    assert fl == 0, x
    return b

def desc(x):
    if isinstance(x, tuple):
        if x[0] == 'pow2': return f"2^{x[1]}"
        if x[0] == 'frac': return str(x[1])
        return hex(x[1])
    return str(x)

def flagstr(fl):
    if fl == 0: return '0'
    names = [(NV, 'FF_NV'), (DZ, 'FF_DZ'), (OF, 'FF_OF'), (UF, 'FF_UF'), (NX, 'FF_NX')]
    return '|'.join(n for b, n in names if fl & b)

# per format: instruction suffix, the test.h macro for its results
SUFFIX = {id(S): 's', id(D): 'd', id(H): 'h'}
MACRO = {id(S): 'FS', id(D): 'FD', id(H): 'FH'}

class Gen:
    def __init__(s, f, start=2):
        s.f = f; s.n = start; s.out = []
        s.p = SUFFIX[id(f)]
        s.mac = 'TEST_' + MACRO[id(f)]
    def emit(s, line): s.out.append(line)
    def comment(s, t): s.out.append(''); s.out.append(f"\t/* {t} */")
    def next(s):
        n = s.n; s.n += 1; return n
    def arith(s, op, fn, operands, rms=None, nops=2):
        rms = rms or [('', RNE)]
        for ops in operands:
            bits = [val(s.f, x) for x in ops]
            for rmname, rm in rms:
                r, fl = fn(*bits, rm)
                extra = f", nops={nops}" + (f", rm={rmname}" if rmname else '')
                # place args in a, b, c positions
                full = [hex(b) for b in bits] + ['0'] * (3 - len(bits))
                s.emit(f"\t{s.mac} {s.next()}, {op}.{s.p}, {flagstr(fl)}, {hex(r)}, {', '.join(full)}{extra}\t/* {', '.join(desc(x) for x in ops)}{' '+rmname if rmname else ''} */")
    def toint(s, op, operands, bits, signed, rms):
        for x in operands:
            b = val(s.f, x)
            for rmname, rm in rms:
                r, fl = to_int(s.f, b, rm, bits, signed)
                r &= (1 << bits) - 1
                if bits == 32:  # sign-extend the 32-bit result
                    r = r | (0xffffffff00000000 if r >> 31 else 0)
                mac = s.mac + '_INT'
                s.emit(f"\t{mac} {s.next()}, {op}, {flagstr(fl)}, {hex(r)}, {hex(b)}, rm={rmname}\t/* {desc(x)} {rmname} */")
    def fromint(s, op, values, bits, signed, rms):
        for v in values:
            for rmname, rm in rms:
                x = v & ((1 << 64) - 1)
                n = x & ((1 << bits) - 1)
                if signed and n >> (bits - 1): n -= 1 << bits
                r, fl = from_int(s.f, n, rm)
                mac = 'TEST_INT_' + MACRO[id(s.f)]
                rmarg = f", rm={rmname}" if rmname else ''
                s.emit(f"\t{mac} {s.next()}, {op}, {flagstr(fl)}, {hex(r)}, {hex(x)}{rmarg}\t/* {n} {rmname} */")
    def cmpint(s, op, fn, pairs):
        mac = s.mac + '_INT'
        for a, b in pairs:
            A, B = val(s.f, a), val(s.f, b)
            r, fl = fn(A, B)
            s.emit(f"\t{mac} {s.next()}, {op}.{s.p}, {flagstr(fl)}, {hex(r)}, {hex(A)}, {hex(B)}, nops=2\t/* {desc(a)}, {desc(b)} */")

def generate(f):
    g = Gen(f)
    p = g.p
    m = f.m
    half_ulp = ('pow2', -m - 1)
    # inexact-ish values
    g.comment(f"fadd.{p}")
    g.arith('fadd', lambda a, b, rm: add(f, a, b, rm), [(1.0, 2.5), (-1.5, 0.25), ('max', 'max'), ('-max', '-max')], RMS)
    g.arith('fadd', lambda a, b, rm: add(f, a, b, rm), [(1.0, ('pow2', -m - 2)), (-1.0, ('pow2', -m - 2)), (1.0, ('frac', Fr(3, 2 ** (m + 2)))), (1.0, half_ulp), (('frac', 1 + Fr(1, 2 ** m)), half_ulp)], RMS)
    g.arith('fadd', lambda a, b, rm: add(f, a, b, rm), [(1.0, -1.0), ('0', '-0'), ('-0', '-0')], [('rne', RNE), ('rdn', RDN)])
    g.arith('fadd', lambda a, b, rm: add(f, a, b, rm), [('inf', '-inf'), ('inf', 'max'), ('qnan', 1.0), ('snan', 1.0), (1.0, '-snan'), ('qnanp', '-qnan'), ('minsub', 'minsub'), ('maxsub', 'minsub'), ('minnorm', '-minsub')])
    g.comment(f"fsub.{p}")
    g.arith('fsub', lambda a, b, rm: add(f, a, b, rm, True), [(3.0, 0.75), (1.0, 1.0), ('-0', '0'), ('0', '0'), ('inf', 'inf'), ('-inf', 'inf'), ('snan', 'qnan'), ('-max', 'max')])
    g.arith('fsub', lambda a, b, rm: add(f, a, b, rm, True), [(1.0, ('pow2', -m - 3)), (1.0, 1.0)], RMS)
    g.comment(f"fmul.{p}")
    g.arith('fmul', lambda a, b, rm: mul(f, a, b, rm), [(2.0, 3.5), (-0.0, 5.0), ('0', '-inf'), ('inf', -2.0), ('qnan', '0'), ('snan', 2.0), ('minnorm', 0.5), ('minnorm', -0.5)])
    g.arith('fmul', lambda a, b, rm: mul(f, a, b, rm), [('max', 2.0), ('-max', 1.5), ('minsub', 0.5), ('-minsub', 0.25), ('minnorm', ('frac', 1 - Fr(1, 2 ** (m + 1)))), (('frac', 1 + Fr(1, 2 ** m)), ('frac', 1 + Fr(1, 2 ** m))), (('frac', Fr(2 ** (m + 1) - 1, 2 ** m)), -3.0)], RMS)
    g.comment(f"fdiv.{p}")
    g.arith('fdiv', lambda a, b, rm: div(f, a, b, rm), [(1.0, 3.0), (-2.0, 3.0), ('max', 0.5), ('minnorm', 3.0)], RMS)
    g.arith('fdiv', lambda a, b, rm: div(f, a, b, rm), [(7.0, 2.0), (1.0, '0'), (-1.0, '0'), (1.0, '-0'), ('0', '0'), ('inf', 'inf'), (1.0, 'inf'), (-1.0, 'inf'), ('inf', '0'), ('qnan', '0'), ('snan', 1.0), ('0', 'qnan')])
    g.comment(f"fsqrt.{p}")
    g.arith('fsqrt', lambda a, rm: sqrt(f, a, rm), [(2.0,), (3.0,), (0.75,)], RMS, nops=1)
    g.arith('fsqrt', lambda a, rm: sqrt(f, a, rm), [(4.0,), (0.25,), ('0',), ('-0',), ('inf',), (-1.0,), ('-inf',), ('-minsub',), ('qnan',), ('snan',), ('minsub',), ('max',)], nops=1)
    g.comment(f"fused multiply-add family (one rounding)")
    fm = lambda na, nc: (lambda a, b, c, rm: fma(f, a, b, c, rm, na, nc))
    k = (m + 3) // 2 + 1  # (1+2^-k)(1-2^-k) = 1 - 2^-2k, not representable
    near1p, near1m = ('frac', 1 + Fr(1, 2 ** k)), ('frac', 1 - Fr(1, 2 ** k))
    ops3 = [(1.0, 2.0, 3.0), (near1p, near1m, -1.0), (-2.0, 3.0, 6.0), (2.0, 3.0, -6.0), ('inf', '0', 'qnan'), ('0', 'inf', 1.0), ('inf', 1.0, '-inf'), ('max', 2.0, '-max'), (1.0, 1.0, 'snan'), ('qnan', 1.0, 1.0), ('-0', 1.0, '0'), ('0', 1.0, '-0'), ('-0', 1.0, '-0')]
    for name, na, nc in (('fmadd', False, False), ('fmsub', False, True), ('fnmsub', True, False), ('fnmadd', True, True)):
        g.comment(f"{name}.{p}")
        g.arith(name, fm(na, nc), ops3, nops=3)
        g.arith(name, fm(na, nc), [(near1p, near1p, ('pow2', -m - 2)), ('minnorm', 0.5, '-minsub'), (1.0, 1.0, -1.0)], [('rne', RNE), ('rdn', RDN), ('rup', RUP), ('rmm', RMM), ('rtz', RTZ)], nops=3)
    g.comment(f"fmin.{p} / fmax.{p} (IEEE 754-2019 minimumNumber/maximumNumber)")
    mm = [(1.0, 2.0), (-1.0, -2.0), ('0', '-0'), ('-0', '0'), ('qnan', 1.0), (-3.0, 'qnanp'), ('snan', 1.0), (1.0, '-snan'), ('qnan', 'qnan'), ('snan', 'qnan'), ('inf', 'max'), ('-inf', '-max'), ('minsub', '-minsub')]
    g.arith('fmin', lambda a, b, rm: minmax(f, a, b, False), mm)
    g.arith('fmax', lambda a, b, rm: minmax(f, a, b, True), mm)
    g.comment(f"fsgnj.{p} family: pure bit operations, NaNs pass through untouched")
    sg = [(1.0, -2.0), (-1.0, 2.0), (-1.0, -2.0), ('qnanp', '-0'), ('snan', '-inf'), ('-inf', 'snan')]
    def sgn(kind):
        def fn(a, b, rm):
            sa, sb = a & f.sign, b & f.sign
            if kind == 'j': s = sb
            elif kind == 'n': s = sb ^ f.sign
            else: s = sa ^ sb
            return (a & ~f.sign) | s, 0
        return fn
    g.arith('fsgnj', sgn('j'), sg)
    g.arith('fsgnjn', sgn('n'), sg)
    g.arith('fsgnjx', sgn('x'), sg)
    g.comment(f"compares: feq is quiet (NV only for sNaN), flt/fle signal on any NaN")
    cp = [(1.0, 1.0), (1.0, 2.0), (2.0, 1.0), ('0', '-0'), ('-0', '0'), ('-inf', 'inf'), ('inf', 'inf'), ('qnan', 1.0), (1.0, 'qnan'), ('snan', 1.0), ('qnan', 'qnan'), ('-minsub', '0')]
    g.cmpint('feq', lambda a, b: cmp(f, a, b, 'eq'), cp)
    g.cmpint('flt', lambda a, b: cmp(f, a, b, 'lt'), cp)
    g.cmpint('fle', lambda a, b: cmp(f, a, b, 'le'), cp)
    g.comment(f"fclass.{p}: one value per class")
    mac = g.mac + '_INT'
    for x in ['-inf', -1.5, '-minsub', '-0', '0', 'maxsub', 1.5, 'inf', 'snan', 'qnan', '-qnan', 'max', '-minnorm']:
        b = val(f, x)
        g.emit(f"\t{mac} {g.next()}, fclass.{p}, 0, {hex(fclass(f, b))}, {hex(b)}\t/* {desc(x)} */")
    g.comment(f"fcvt to integers: rounding, saturation, NaN -> largest")
    fr = lambda v: ('frac', Fr(v))
    vals = [1.5, 2.5, -1.5, -2.5, 0.5, -0.5, fr(Fr(7, 4)), fr(Fr(-7, 4))]
    sat = ['-0', 'qnan', 'snan', 'inf', '-inf', 'max', '-max', -1.0, 0.0]
    if f is H:  # the largest half is 65504: no word or long edges to reach
        w_edges, l_edges = [fr(-2 ** 15), ('pow2', 15), fr(65504), fr(-65504)], []
    else:
        w_edges = [('pow2', 31), fr(-2 ** 31), fr(2 ** 31 - 2 ** 7) if f is S else fr(2 ** 31 - 1), fr(-2 ** 31 - 2 ** 8) if f is S else fr(-2 ** 31 - 1), fr(2 ** 32 - 2 ** 8) if f is S else fr(2 ** 32 - 1), ('pow2', 32)]
        l_edges = [('pow2', 63), fr(-2 ** 63), fr(2 ** 63 - 2 ** 39) if f is S else fr(2 ** 63 - 2 ** 10), ('pow2', 64), fr(2 ** 64 - 2 ** 40) if f is S else fr(2 ** 64 - 2 ** 11)]
    if f is D: w_edges += [fr(Fr(-2 ** 31) - Fr(1, 2)), fr(Fr(2 ** 31 - 1) + Fr(1, 2)), fr(Fr(2 ** 32 - 1) + Fr(1, 2))]
    for op, bits, sgnd in ((f'fcvt.w.{p}', 32, True), (f'fcvt.wu.{p}', 32, False), (f'fcvt.l.{p}', 64, True), (f'fcvt.lu.{p}', 64, False)):
        g.comment(op)
        g.toint(op, vals, bits, sgnd, RMS)
        g.toint(op, sat + w_edges + l_edges, bits, sgnd, [('rtz', RTZ)])
        g.toint(op, [fr(Fr(-1, 4)), fr(Fr(-3, 4))], bits, sgnd, [('rtz', RTZ), ('rdn', RDN), ('rne', RNE)])
    g.comment(f"fcvt from integers (the .w/.wu forms ignore the upper 32 bits)")
    big = [1, -1, 0, 0x7fffffff, 0x80000000, 0xffffffff, 0x12345678ffffffff, (1 << 24) + 1, (1 << 24) + 3, (1 << 53) + 1, 0x7fffffffffffffff, 0x8000000000000000, 0xffffffffffffffff, 0x8000000000000001, 0xfffffffffffffffd]
    for op, bits, sgnd in ((f'fcvt.{p}.w', 32, True), (f'fcvt.{p}.wu', 32, False), (f'fcvt.{p}.l', 64, True), (f'fcvt.{p}.lu', 64, False)):
        g.comment(op)
        sel = [v for v in big]
        exact_rm = [('rne', RNE)]
        for v in sel:
            x = v & ((1 << 64) - 1)
            n = x & ((1 << bits) - 1)
            if sgnd and n >> (bits - 1): n -= 1 << bits
            inexact = from_int(f, n, RNE)[1] != 0
            g.fromint(op, [v], bits, sgnd, RMS if inexact else [('', RNE)])
    if f is H:
        half_extras(g)
    return g


def boxed(f, bits):
    """The 64-bit register image of a value of format f (NaN-boxed)."""
    return bits | {id(S): 0xffffffff00000000, id(D): 0, id(H): 0xffffffffffff0000}[id(f)]


def half_extras(g):
    """Zfh beyond the arithmetic: conversions between H and S/D in both
    directions, reading an improperly boxed operand as the canonical NaN,
    and the moves (FMV.X.H sign-extends, FMV.H.X boxes)."""
    def cvt(to, frm, values, rms):
        for x in values:
            a = val(frm, x)
            for rmname, rm in rms:
                r, fl = convert(frm, to, a, rm)
                op = f"fcvt.{SUFFIX[id(to)]}.{SUFFIX[id(frm)]}"
                rmarg = f", rm={rmname}" if rmname else ''  # widening takes none
                g.emit(f"\tTEST_FCVT {g.next()}, {op}, {flagstr(fl)}, {hex(boxed(to, r))}, {hex(boxed(frm, a))}{rmarg}\t/* {desc(x)} {rmname} */")
    wide = [1.5, ('frac', -(1 + Fr(1, 2 ** 11))), ('frac', 1 + Fr(3, 2 ** 12)), 65504.0, 65520.0, 1e5, -1e5, 2.0 ** -24, 2.0 ** -25, 3 * 2.0 ** -26, 2.0 ** -14 - 2.0 ** -26, 'qnan', 'snan', 'inf', '-0', 'minsub', 'max']
    narrow = [1.5, -2.0, 65504.0, ('pow2', -24), ('pow2', -14), 'qnan', 'snan', '-inf', '-0', 'maxsub']
    rms = [('rne', RNE), ('rtz', RTZ), ('rdn', RDN), ('rup', RUP), ('rmm', RMM)]
    for src in (S, D):
        g.comment(f"fcvt.h.{SUFFIX[id(src)]}: rounding, overflow, subnormal results")
        cvt(H, src, wide, rms)
        g.comment(f"fcvt.{SUFFIX[id(src)]}.h: always exact")
        cvt(src, H, narrow, [('', RNE)])
    g.comment("an H operand not NaN-boxed (upper bits not all ones) reads as the canonical NaN")
    for op, res in (("fcvt.s.h", boxed(S, S.qnan)), ("fcvt.d.h", D.qnan)):
        for raw in (0x3c00, 0xffffffff00003c00, 0x7fffffffffff3c00):
            g.emit(f"\tTEST_FCVT {g.next()}, {op}, 0, {hex(res)}, {hex(raw)}")
    g.comment("fmv.x.h sign-extends bit 15 (raw bits, no unboxing); fmv.h.x boxes")
    for raw, res in ((0xffffffffffff8001, 0xffffffffffff8001), (0xffffffffffff7c00, 0x7c00), (0x0000000012345678, 0x5678), (0x000000000000f00f, 0xfffffffffffff00f)):
        g.emit(f"\tTEST_MV_X_H {g.next()}, {hex(res)}, {hex(raw)}")
    for x, res in ((0x123456789abcdef0, 0xffffffffffffdef0), (0x7e00, 0xffffffffffff7e00), (0xffff0000ffff8000, 0xffffffffffff8000)):
        g.emit(f"\tTEST_MV_H_X {g.next()}, {hex(res)}, {hex(x)}")
    g.comment("flh boxes what it loads; fsh stores the low 16 bits whatever the rest")
    g.emit(f"\tTEST_FLH_FSH {g.next()}")


HALF_MACROS = """
\t.option arch, +zfh

/* a conversion: operand and result as 64-bit register images */
\t.macro TEST_FCVT n, insn, flags, result, a, rm=
\tCASE \\n
\tli t0, \\a
\tfmv.d.x ft0, t0
\t.ifb \\rm
\tFP_RUN \\insn ft3, ft0
\t.else
\tFP_RUN \\insn ft3, ft0, \\rm
\t.endif
\tfmv.x.d a0, ft3
\tli t0, \\result
\tCHECK_REG a0, t0
\tCHECK a1, \\flags
\t.endm

\t.macro TEST_MV_X_H n, result, reg
\tCASE \\n
\tli t0, \\reg
\tfmv.d.x ft0, t0
\tfmv.x.h a0, ft0
\tli t0, \\result
\tCHECK_REG a0, t0
\t.endm

\t.macro TEST_MV_H_X n, result, x
\tCASE \\n
\tli a2, \\x
\tfmv.h.x ft0, a2
\tfmv.x.d a0, ft0
\tli t0, \\result
\tCHECK_REG a0, t0
\t.endm

\t.macro TEST_FLH_FSH n
\tCASE \\n
\tla a2, .Lhalves\\@
\tflh ft0, 2(a2)
\tfmv.x.d a0, ft0
\tli t0, 0xffffffffffffbeef
\tCHECK_REG a0, t0
\tli t0, 0x1234567800005678 /* not a boxed half: fsh stores its low bits */
\tfmv.d.x ft1, t0
\tfsh ft1, 0(a2)
\tlhu a0, 0(a2)
\tCHECK a0, 0x5678
\tlhu a0, 2(a2)
\tCHECK a0, 0xbeef
\tj .Lover\\@
\t.data
\t.balign 8
.Lhalves\\@:
\t.half 0xdead, 0xbeef, 0, 0
\t.text
.Lover\\@:
\t.endm
"""


HEADER = """/* RV64{X} arithmetic on {P}-precision values, case by case against an
 * exact reference (IEEE 754-2019 with the RISC-V choices: canonical NaN
 * results, tininess detected after rounding, fmin/fmax as
 * minimumNumber/maximumNumber, invalid for inf*0 in a fused multiply-add
 * even when the addend is a quiet NaN).  Each case checks the result bits
 * and the accrued flags of one instruction; inexact cases run under all
 * five static rounding modes, including RMM.{EXTRA}
 *
 * GENERATED by tools/gen_fp_arith.py from the exact model in
 * tools/fpref.py (the cases agree with QEMU's softfloat): edit the
 * generator, not this file. */
#include "test.h"

\tTEST_BEGIN
"""


def write(fmt, path):
    g = generate(fmt)
    extra = {id(S): '\n * TEST_FS also checks that every single result is NaN-boxed.',
             id(H): '\n * TEST_FH also checks that every half result is NaN-boxed.  Then the\n'
                    ' * conversions to and from S and D, the moves, FLH and FSH.',
             id(D): ''}[id(fmt)]
    name = {id(S): ('F', 'single'), id(D): ('D', 'double'), id(H): ('Zfh', 'half')}[id(fmt)]
    text = HEADER.format(X=name[0], P=name[1], EXTRA=extra)
    if fmt is H:
        text = text.replace('#include "test.h"\n', '#include "test.h"\n' + HALF_MACROS)
    text += '\n'.join(g.out) + '\n\n\tTEST_END\n'
    with open(path, 'w') as f:
        f.write(text)


if __name__ == '__main__':
    here = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    write(S, os.path.join(here, 'rv64f-arith.S'))
    write(D, os.path.join(here, 'rv64d-arith.S'))
    write(H, os.path.join(here, 'rv64zfh-arith.S'))
