/* FP group: double-precision matrix multiply (fmadd.d bound) and the
 * classic n-body step (fmadd/fnmsub, fdiv.d, fsqrt.d).  Fused operations
 * are written as explicit fma() and contraction is disabled, so results
 * are bit-exact on any IEEE 754 machine (see bench.h). */
#include "bench.h"

/* ---- matrix multiply ---- */

#define MAT_N 96
#define MAT_ROUNDS 10

static double mat_a[MAT_N][MAT_N], mat_bt[MAT_N][MAT_N], mat_c[MAT_N][MAT_N];

/* Uniform in [-1, 1) with 53 random bits; exact conversion, exact scale. */
static double random_unit(uint64_t *seed)
{
	return (double)(int64_t)(lcg_next(seed) >> 11) * 0x1p-52 - 1.0;
}

uint64_t kernel_matmul(void)
{
	uint64_t seed = 12345, sum = 0;

	for (int i = 0; i < MAT_N; i++)
		for (int j = 0; j < MAT_N; j++) {
			mat_a[i][j] = random_unit(&seed);
			mat_bt[i][j] = random_unit(&seed);
		}
	/* C = A * B, then B = C / 8 for the next round: every round depends
	 * on the previous one, and the scale (an exact power of two, about
	 * A's spectral radius) keeps values away from overflow and
	 * subnormals. */
	for (int round = 0; round < MAT_ROUNDS; round++) {
		for (int i = 0; i < MAT_N; i++)
			for (int j = 0; j < MAT_N; j++) {
				double acc = 0.0;
				for (int k = 0; k < MAT_N; k++)
					acc = __builtin_fma(mat_a[i][k], mat_bt[j][k], acc);
				mat_c[i][j] = acc;
			}
		for (int i = 0; i < MAT_N; i++)
			for (int j = 0; j < MAT_N; j++)
				mat_bt[j][i] = mat_c[i][j] * 0.125;
	}
	for (int i = 0; i < MAT_N; i++)
		for (int j = 0; j < MAT_N; j++)
			sum = mix(sum, double_bits(mat_c[i][j]));
	return sum;
}

/* ---- n-body (the Computer Language Benchmarks Game's Jovian system) ---- */

#define NBODY_STEPS 125000
#define NBODY_BODIES 5

struct body {
	double x, y, z, vx, vy, vz, mass;
};

#define PI 3.141592653589793
#define SOLAR_MASS (4 * PI * PI)
#define DAYS_PER_YEAR 365.24

static const struct body nbody_init[NBODY_BODIES] = {
	{ 0, 0, 0, 0, 0, 0, SOLAR_MASS },
	{ 4.84143144246472090e+00, -1.16032004402742839e+00, -1.03622044471123109e-01,
	  1.66007664274403694e-03 * DAYS_PER_YEAR, 7.69901118419740425e-03 * DAYS_PER_YEAR,
	  -6.90460016972063023e-05 * DAYS_PER_YEAR, 9.54791938424326609e-04 * SOLAR_MASS },
	{ 8.34336671824457987e+00, 4.12479856412430479e+00, -4.03523417114321381e-01,
	  -2.76742510726862411e-03 * DAYS_PER_YEAR, 4.99852801234917238e-03 * DAYS_PER_YEAR,
	  2.30417297573763929e-05 * DAYS_PER_YEAR, 2.85885980666130812e-04 * SOLAR_MASS },
	{ 1.28943695621391310e+01, -1.51111514016986312e+01, -2.23307578892655734e-01,
	  2.96460137564761618e-03 * DAYS_PER_YEAR, 2.37847173959480950e-03 * DAYS_PER_YEAR,
	  -2.96589568540237556e-05 * DAYS_PER_YEAR, 4.36624404335156298e-05 * SOLAR_MASS },
	{ 1.53796971148509165e+01, -2.59193146099879641e+01, 1.79258772950371181e-01,
	  2.68067772490389322e-03 * DAYS_PER_YEAR, 1.62824170038242295e-03 * DAYS_PER_YEAR,
	  -9.51592254519715870e-05 * DAYS_PER_YEAR, 5.15138902046611451e-05 * SOLAR_MASS },
};

static void nbody_advance(struct body *b, double dt)
{
	for (int i = 0; i < NBODY_BODIES; i++)
		for (int j = i + 1; j < NBODY_BODIES; j++) {
			double dx = b[i].x - b[j].x, dy = b[i].y - b[j].y, dz = b[i].z - b[j].z;
			double d2 = __builtin_fma(dx, dx, __builtin_fma(dy, dy, dz * dz));
			double mag = dt / (d2 * __builtin_sqrt(d2));
			double mi = b[i].mass * mag, mj = b[j].mass * mag;

			b[i].vx = __builtin_fma(-dx, mj, b[i].vx);
			b[i].vy = __builtin_fma(-dy, mj, b[i].vy);
			b[i].vz = __builtin_fma(-dz, mj, b[i].vz);
			b[j].vx = __builtin_fma(dx, mi, b[j].vx);
			b[j].vy = __builtin_fma(dy, mi, b[j].vy);
			b[j].vz = __builtin_fma(dz, mi, b[j].vz);
		}
	for (int i = 0; i < NBODY_BODIES; i++) {
		b[i].x = __builtin_fma(dt, b[i].vx, b[i].x);
		b[i].y = __builtin_fma(dt, b[i].vy, b[i].y);
		b[i].z = __builtin_fma(dt, b[i].vz, b[i].z);
	}
}

static double nbody_energy(const struct body *b)
{
	double e = 0.0;

	for (int i = 0; i < NBODY_BODIES; i++) {
		double v2 = __builtin_fma(b[i].vx, b[i].vx,
					  __builtin_fma(b[i].vy, b[i].vy, b[i].vz * b[i].vz));
		e = __builtin_fma(0.5 * b[i].mass, v2, e);
		for (int j = i + 1; j < NBODY_BODIES; j++) {
			double dx = b[i].x - b[j].x, dy = b[i].y - b[j].y, dz = b[i].z - b[j].z;
			e -= b[i].mass * b[j].mass /
			     __builtin_sqrt(__builtin_fma(dx, dx, __builtin_fma(dy, dy, dz * dz)));
		}
	}
	return e;
}

uint64_t kernel_nbody(void)
{
	struct body b[NBODY_BODIES];
	double px = 0, py = 0, pz = 0;
	uint64_t sum = 0;

	for (int i = 0; i < NBODY_BODIES; i++) {
		b[i] = nbody_init[i];
		px = __builtin_fma(b[i].vx, b[i].mass, px);
		py = __builtin_fma(b[i].vy, b[i].mass, py);
		pz = __builtin_fma(b[i].vz, b[i].mass, pz);
	}
	/* offset the sun's momentum so the system's centre of mass is still */
	b[0].vx = -px / SOLAR_MASS;
	b[0].vy = -py / SOLAR_MASS;
	b[0].vz = -pz / SOLAR_MASS;

	sum = mix(sum, double_bits(nbody_energy(b)));
	for (int step = 0; step < NBODY_STEPS; step++)
		nbody_advance(b, 0.01);
	sum = mix(sum, double_bits(nbody_energy(b)));
	for (int i = 0; i < NBODY_BODIES; i++)
		sum = mix(mix(mix(sum, double_bits(b[i].x)), double_bits(b[i].y)), double_bits(b[i].z));
	return sum;
}
