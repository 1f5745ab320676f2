"""Generates rv64f-arith.S and rv64d-arith.S (case lines checked against the
exact model in fpref.py).  Run from anywhere:

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

class Gen:
    def __init__(s, f, start=2):
        s.f = f; s.n = start; s.out = []
        s.p = 's' if f is S else 'd'
        s.mac = 'TEST_FS' if f is S else 'TEST_FD'
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
                mac = 'TEST_FS_INT' if s.f is S else 'TEST_FD_INT'
                s.emit(f"\t{mac} {s.next()}, {op}, {flagstr(fl)}, {hex(r)}, {hex(b)}, rm={rmname}\t/* {desc(x)} {rmname} */")
    def fromint(s, op, values, bits, signed, rms):
        for v in values:
            for rmname, rm in rms:
                x = v & ((1 << 64) - 1)
                n = x & ((1 << bits) - 1)
                if signed and n >> (bits - 1): n -= 1 << bits
                r, fl = from_int(s.f, n, rm)
                mac = 'TEST_INT_FS' if s.f is S else 'TEST_INT_FD'
                rmarg = f", rm={rmname}" if rmname else ''
                s.emit(f"\t{mac} {s.next()}, {op}, {flagstr(fl)}, {hex(r)}, {hex(x)}{rmarg}\t/* {n} {rmname} */")
    def cmpint(s, op, fn, pairs):
        mac = 'TEST_FS_INT' if s.f is S else 'TEST_FD_INT'
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
    mac = 'TEST_FS_INT' if f is S else 'TEST_FD_INT'
    for x in ['-inf', -1.5, '-minsub', '-0', '0', 'maxsub', 1.5, 'inf', 'snan', 'qnan', '-qnan', 'max', '-minnorm']:
        b = val(f, x)
        g.emit(f"\t{mac} {g.next()}, fclass.{p}, 0, {hex(fclass(f, b))}, {hex(b)}\t/* {desc(x)} */")
    g.comment(f"fcvt to integers: rounding, saturation, NaN -> largest")
    fr = lambda v: ('frac', Fr(v))
    vals = [1.5, 2.5, -1.5, -2.5, 0.5, -0.5, fr(Fr(7, 4)), fr(Fr(-7, 4))]
    sat = ['-0', 'qnan', 'snan', 'inf', '-inf', 'max', '-max', -1.0, 0.0]
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
    return g


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
    extra = '\n * TEST_FS also checks that every single result is NaN-boxed.' if fmt is S else ''
    text = HEADER.format(X='F' if fmt is S else 'D', P='single' if fmt is S else 'double', EXTRA=extra)
    text += '\n'.join(g.out) + '\n\n\tTEST_END\n'
    with open(path, 'w') as f:
        f.write(text)


if __name__ == '__main__':
    here = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    write(S, os.path.join(here, 'rv64f-arith.S'))
    write(D, os.path.join(here, 'rv64d-arith.S'))
