"""Reference IEEE-754 binary16/binary32/binary64 arithmetic with RISC-V semantics
(canonical NaN, tininess after rounding), on exact rationals."""
from fractions import Fraction as F
import math

NX, UF, OF, DZ, NV = 1, 2, 4, 8, 16
RNE, RTZ, RDN, RUP, RMM = 0, 1, 2, 3, 4

class Fmt:
    def __init__(s, e, m):
        s.e, s.m = e, m
        s.bias = (1 << (e - 1)) - 1
        s.emin = 1 - s.bias
        s.emax = s.bias
        s.width = 1 + e + m
        s.qnan = ((1 << e) - 1) << m | (1 << (m - 1))
        s.inf = ((1 << e) - 1) << m
        s.sign = 1 << (e + m)
        s.maxfin = ((((1 << e) - 2) << m) | ((1 << m) - 1))
S = Fmt(8, 23)
D = Fmt(11, 52)
H = Fmt(5, 10)

def decode(f, b):
    sign = (b >> (f.e + f.m)) & 1
    ex = (b >> f.m) & ((1 << f.e) - 1)
    man = b & ((1 << f.m) - 1)
    if ex == (1 << f.e) - 1:
        if man == 0: return ('inf', sign, None)
        return ('snan' if not (man >> (f.m - 1)) else 'qnan', sign, None)
    if ex == 0:
        v = F(man, 1 << f.m) * F(2) ** f.emin
    else:
        v = (1 + F(man, 1 << f.m)) * F(2) ** (ex - f.bias)
    if v == 0: return ('zero', sign, F(0))
    return ('num', sign, v)

def is_nan(d): return d[0] in ('snan', 'qnan')

def floor_log2(v):
    e = v.numerator.bit_length() - v.denominator.bit_length()
    if F(2) ** e > v: e -= 1
    if F(2) ** (e + 1) <= v: e += 1
    return e

def round_int(v, sign, rm):
    """Round positive rational v to an integer per rm (sign of the real value). Returns (n, inexact)."""
    n = v.numerator // v.denominator
    r = v - n
    if r == 0: return n, False
    if rm == RNE:
        if r > F(1, 2) or (r == F(1, 2) and n & 1): n += 1
    elif rm == RMM:
        if r >= F(1, 2): n += 1
    elif rm == RTZ: pass
    elif rm == RDN:
        if sign: n += 1
    elif rm == RUP:
        if not sign: n += 1
    return n, True

def encode_finite(f, sign, v, rm):
    """Round exact value (sign, v>=0) to format f. Returns (bits, flags)."""
    if v == 0:
        return (f.sign if sign else 0), 0
    e = floor_log2(v)
    # tininess after rounding: round with unbounded exponent
    q_unb = F(2) ** (e - f.m)
    n_unb, _ = round_int(v / q_unb, sign, rm)
    tiny = n_unb * q_unb < F(2) ** f.emin
    ee = max(e, f.emin)
    q = F(2) ** (ee - f.m)
    n, inexact = round_int(v / q, sign, rm)
    val = n * q
    flags = NX if inexact else 0
    if tiny and inexact: flags |= UF
    if val >= F(2) ** (f.emax + 1):
        flags = OF | NX
        to_inf = (rm in (RNE, RMM)) or (rm == RUP and not sign) or (rm == RDN and sign)
        mag = f.inf if to_inf else f.maxfin
        return (f.sign if sign else 0) | mag, flags
    if val == 0:
        return (f.sign if sign else 0), flags
    e2 = floor_log2(val)
    if e2 < f.emin:
        bits = int(val / F(2) ** (f.emin - f.m))
    else:
        bits = ((e2 + f.bias) << f.m) | int(val / F(2) ** (e2 - f.m)) - (1 << f.m)
    return (f.sign if sign else 0) | bits, flags

def nan_result(f, *ds):
    fl = NV if any(d[0] == 'snan' for d in ds) else 0
    return f.qnan, fl

def signed(d):
    return -d[2] if d[1] else d[2]

def exact_result(f, x, rm, zero_sign_if_zero):
    if x == 0:
        return (f.sign if zero_sign_if_zero else 0), 0
    return encode_finite(f, 1 if x < 0 else 0, abs(x), rm)

def add(f, a, b, rm, sub=False):
    A, B = decode(f, a), decode(f, b)
    if sub: B = (B[0], B[1] ^ 1, B[2]) if not is_nan(B) else B
    if is_nan(A) or is_nan(B): return nan_result(f, A, B)
    if A[0] == 'inf' and B[0] == 'inf':
        if A[1] != B[1]: return f.qnan, NV
        return (f.sign if A[1] else 0) | f.inf, 0
    if A[0] == 'inf': return (f.sign if A[1] else 0) | f.inf, 0
    if B[0] == 'inf': return (f.sign if B[1] else 0) | f.inf, 0
    x = signed(A) + signed(B)
    if x == 0:
        if A[0] == 'zero' and B[0] == 'zero' and A[1] == B[1]: zs = A[1]
        else: zs = 1 if rm == RDN else 0
        return (f.sign if zs else 0), 0
    return exact_result(f, x, rm, 0)

def mul(f, a, b, rm):
    A, B = decode(f, a), decode(f, b)
    if is_nan(A) or is_nan(B): return nan_result(f, A, B)
    s = A[1] ^ B[1]
    if A[0] == 'inf' or B[0] == 'inf':
        if A[0] == 'zero' or B[0] == 'zero': return f.qnan, NV
        return (f.sign if s else 0) | f.inf, 0
    return encode_finite(f, s, A[2] * B[2], rm)

def div(f, a, b, rm):
    A, B = decode(f, a), decode(f, b)
    if is_nan(A) or is_nan(B): return nan_result(f, A, B)
    s = A[1] ^ B[1]
    if A[0] == 'inf':
        if B[0] == 'inf': return f.qnan, NV
        return (f.sign if s else 0) | f.inf, 0
    if B[0] == 'inf': return (f.sign if s else 0), 0
    if B[0] == 'zero':
        if A[0] == 'zero': return f.qnan, NV
        return (f.sign if s else 0) | f.inf, DZ
    return encode_finite(f, s, A[2] / B[2], rm)

def sqrt(f, a, rm):
    A = decode(f, a)
    if is_nan(A): return nan_result(f, A)
    if A[0] == 'zero': return a, 0
    if A[1]: return f.qnan, NV
    if A[0] == 'inf': return a, 0
    v = A[2]
    # compute sqrt to enough bits: scale so integer sqrt has m+3 bits beyond
    e = floor_log2(v)
    k = (f.m + 8 - e // 2)
    scaled = v * F(4) ** k
    n = scaled.numerator // scaled.denominator
    r = math.isqrt(n)
    exact = (r * r == n) and (scaled == n)
    # value = r / 2^k with sticky
    val = F(r) / F(2) ** k
    if not exact:
        val += F(1) / F(2) ** (k + 1)  # sticky: strictly between r and r+1 (never a tie at this precision)
    return encode_finite(f, 0, val, rm)

def fma(f, a, b, c, rm, negprod=False, negc=False):
    A, B, C = decode(f, a), decode(f, b), decode(f, c)
    if negprod: A = (A[0], A[1] ^ 1, A[2]) if not is_nan(A) else A
    if negc: C = (C[0], C[1] ^ 1, C[2]) if not is_nan(C) else C
    inv = (A[0] == 'inf' and B[0] == 'zero') or (A[0] == 'zero' and B[0] == 'inf')
    if is_nan(A) or is_nan(B) or is_nan(C):
        r, fl = nan_result(f, A, B, C)
        if inv: fl |= NV
        return r, fl
    if inv: return f.qnan, NV
    ps = A[1] ^ B[1]
    if A[0] == 'inf' or B[0] == 'inf':
        if C[0] == 'inf' and C[1] != ps: return f.qnan, NV
        return (f.sign if ps else 0) | f.inf, 0
    if C[0] == 'inf': return (f.sign if C[1] else 0) | f.inf, 0
    p = A[2] * B[2] * (-1 if ps else 1)
    x = p + signed(C)
    if x == 0:
        if p == 0 and C[0] == 'zero' and ps == C[1]: zs = ps
        else: zs = 1 if rm == RDN else 0
        return (f.sign if zs else 0), 0
    return exact_result(f, x, rm, 0)

def minmax(f, a, b, is_max):
    A, B = decode(f, a), decode(f, b)
    fl = NV if (A[0] == 'snan' or B[0] == 'snan') else 0
    if is_nan(A) and is_nan(B): return f.qnan, fl
    if is_nan(A): return b, fl
    if is_nan(B): return a, fl
    def key(d, bits):
        if d[0] == 'inf': return (F(-1) if d[1] else F(1)) * 10 ** 400, 0
        if d[0] == 'zero': return F(0), (0 if d[1] else 1)
        return signed(d), 0
    ka, kb = key(A, a), key(B, b)
    if is_max: return (a if ka >= kb else b), fl
    return (a if ka <= kb else b), fl

def cmp(f, a, b, op):
    A, B = decode(f, a), decode(f, b)
    if is_nan(A) or is_nan(B):
        if op == 'eq': fl = NV if (A[0] == 'snan' or B[0] == 'snan') else 0
        else: fl = NV
        return 0, fl
    def val(d):
        if d[0] == 'inf': return (F(-1) if d[1] else F(1)) * 10 ** 400
        if d[0] == 'zero': return F(0)
        return signed(d)
    x, y = val(A), val(B)
    return int({'eq': x == y, 'lt': x < y, 'le': x <= y}[op]), 0

def fclass(f, a):
    A = decode(f, a)
    k, s = A[0], A[1]
    if k == 'inf': return 1 << (0 if s else 7)
    if k == 'zero': return 1 << (3 if s else 4)
    if k == 'snan': return 1 << 8
    if k == 'qnan': return 1 << 9
    sub = ((a >> f.m) & ((1 << f.e) - 1)) == 0
    if s: return 1 << (2 if sub else 1)
    return 1 << (5 if sub else 6)

def to_int(f, a, rm, bits, is_signed):
    A = decode(f, a)
    lo = -(1 << (bits - 1)) if is_signed else 0
    hi = (1 << (bits - 1)) - 1 if is_signed else (1 << bits) - 1
    if is_nan(A): return hi, NV
    if A[0] == 'inf': return (lo if A[1] else hi), NV
    if A[0] == 'zero': return 0, 0
    n, inexact = round_int(A[2], A[1], rm)
    if A[1]: n = -n
    if n < lo: return lo, NV
    if n > hi: return hi, NV
    return n, (NX if inexact else 0)

def from_int(f, n, rm):
    if n == 0: return 0, 0
    return encode_finite(f, 1 if n < 0 else 0, F(abs(n)), rm)

def convert(fs, fd, a, rm):
    A = decode(fs, a)
    if is_nan(A): return fd.qnan, (NV if A[0] == 'snan' else 0)
    if A[0] == 'inf': return (fd.sign if A[1] else 0) | fd.inf, 0
    if A[0] == 'zero': return (fd.sign if A[1] else 0), 0
    return encode_finite(fd, A[1], A[2], rm)

def bits_of(f, x):
    import struct
    if f is D: return struct.unpack('<Q', struct.pack('<d', x))[0]
    return struct.unpack('<I', struct.pack('<f', x))[0]
