/* bench-stats.h: the order statistics the benchmarks print (medians,
 * percentiles of their runs), in one place.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#include <stdlib.h>
#include <glib.h>

static inline int
bench_compare_double (const void *a,
                      const void *b)
{
  double x = *(const double *) a, y = *(const double *) b;

  return x < y ? -1 : x > y;
}

/* Sorts @v (@n > 0 values) in place and returns its median. */
static inline double
bench_median (double *v,
              guint   n)
{
  qsort (v, n, sizeof *v, bench_compare_double);
  return v[n / 2];
}
