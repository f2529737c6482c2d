package org.fslspark.data;

import org.apache.commons.math3.distribution.GammaDistribution;
import org.apache.commons.math3.random.RandomGenerator;
import org.apache.commons.math3.random.Well19937c;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Splits a dataset's samples among institutes: every sample goes to exactly one institute, the result depends
 * only on the inputs and the seed, and an institute left without samples is an error (training could not
 * weight it, and it is almost always a mistake in the parameters).
 */
public sealed interface Partitioner permits Partitioner.Iid, Partitioner.Dirichlet, Partitioner.ByColumn {

    /** Assigns the samples with these labels (labels in [0, classes)) to {@code institutes}. */
    Assignment assign(int[] labels, int classes, List<String> institutes);

    default Assignment assign(LabeledImages data, List<String> institutes) {
        return assign(data.labels(), data.classes(), institutes);
    }

    /** Shuffled equal shares (sizes differ by at most one). */
    static Partitioner iid(long seed) {
        return new Iid(seed);
    }

    /** Label skew: per class, proportions over institutes drawn from Dir(alpha). */
    static Partitioner dirichlet(double alpha, long seed) {
        return new Dirichlet(alpha, seed);
    }

    /** A given institute per sample (e.g. the {@code institute} column of a Parquet source). */
    static Partitioner byColumn(String column, String[] instituteOfSample) {
        return new ByColumn(column, instituteOfSample);
    }

    /** Sample indices per institute, ascending, in the order the institutes were listed. */
    record Assignment(Map<String, int[]> shares) {
        public int[] of(String institute) {
            int[] s = shares.get(institute);
            if (s == null) {
                throw new IllegalArgumentException("no institute '" + institute + "' in " + shares.keySet());
            }
            return s;
        }

        static Assignment of(List<String> institutes, List<List<Integer>> buckets, String how) {
            Map<String, int[]> m = new LinkedHashMap<>();
            for (int j = 0; j < institutes.size(); j++) {
                int[] s = buckets.get(j).stream().mapToInt(Integer::intValue).sorted().toArray();
                if (s.length == 0) {
                    throw new DataException("institute '" + institutes.get(j) + "' received no samples under " + how);
                }
                m.put(institutes.get(j), s);
            }
            return new Assignment(Collections.unmodifiableMap(m));
        }
    }

    record Iid(long seed) implements Partitioner {
        @Override
        public Assignment assign(int[] labels, int classes, List<String> institutes) {
            checkInstitutes(institutes);
            int n = labels.length;
            int k = institutes.size();
            int[] order = identity(n);
            shuffle(order, new Well19937c(seed));
            List<List<Integer>> buckets = buckets(k);
            for (int j = 0; j < k; j++) {
                int from = (int) ((long) j * n / k);
                int to = (int) ((long) (j + 1) * n / k);
                for (int i = from; i < to; i++) {
                    buckets.get(j).add(order[i]);
                }
            }
            return Assignment.of(institutes, buckets, "iid partitioning of " + n + " samples (seed " + seed
                    + "); there are fewer samples than institutes");
        }
    }

    record Dirichlet(double alpha, long seed) implements Partitioner {
        public Dirichlet {
            if (!(alpha > 0) || Double.isInfinite(alpha)) {
                throw new DataException(PrepareSpec.KEY_ALPHA + " must be a finite number > 0 for dirichlet partitioning, got " + alpha);
            }
        }

        @Override
        public Assignment assign(int[] labels, int classes, List<String> institutes) {
            checkInstitutes(institutes);
            int k = institutes.size();
            RandomGenerator rng = new Well19937c(seed);
            GammaDistribution gamma = new GammaDistribution(rng, alpha, 1.0);
            List<List<Integer>> byClass = buckets(classes);
            for (int i = 0; i < labels.length; i++) {
                byClass.get(labels[i]).add(i);
            }
            List<List<Integer>> buckets = buckets(k);
            for (int c = 0; c < classes; c++) {
                int[] members = byClass.get(c).stream().mapToInt(Integer::intValue).toArray();
                shuffle(members, rng);
                double[] p = sample(gamma, rng, k);
                // Cut the shuffled class at the rounded cumulative proportions: counts sum to the class size.
                double cum = 0;
                int from = 0;
                for (int j = 0; j < k; j++) {
                    cum += p[j];
                    int to = j == k - 1 ? members.length : (int) Math.round(cum * members.length);
                    to = Math.max(from, Math.min(members.length, to));
                    for (int i = from; i < to; i++) {
                        buckets.get(j).add(members[i]);
                    }
                    from = to;
                }
            }
            return Assignment.of(institutes, buckets, "dirichlet partitioning (" + PrepareSpec.KEY_ALPHA + " = " + alpha
                    + ", seed " + seed + "); raise " + PrepareSpec.KEY_ALPHA + ", change the seed or list fewer institutes");
        }

        /** One draw from Dir(alpha, ..., alpha) as normalised Gamma(alpha, 1) draws. */
        private static double[] sample(GammaDistribution gamma, RandomGenerator rng, int k) {
            double[] g = new double[k];
            double sum = 0;
            for (int j = 0; j < k; j++) {
                g[j] = gamma.sample();
                sum += g[j];
            }
            if (!(sum > 0) || Double.isInfinite(sum)) {
                // Every draw underflowed (tiny alpha): Dir(alpha) tends to a uniformly chosen vertex.
                Arrays.fill(g, 0);
                g[rng.nextInt(k)] = 1;
                return g;
            }
            for (int j = 0; j < k; j++) {
                g[j] /= sum;
            }
            return g;
        }
    }

    record ByColumn(String column, String[] instituteOfSample) implements Partitioner {
        @Override
        public Assignment assign(int[] labels, int classes, List<String> institutes) {
            checkInstitutes(institutes);
            if (instituteOfSample.length != labels.length) {
                throw new DataException("column '" + column + "' has " + instituteOfSample.length + " values for "
                        + labels.length + " samples");
            }
            Map<String, Integer> index = new HashMap<>();
            for (int j = 0; j < institutes.size(); j++) {
                index.put(institutes.get(j), j);
            }
            List<List<Integer>> buckets = buckets(institutes.size());
            for (int i = 0; i < instituteOfSample.length; i++) {
                Integer j = instituteOfSample[i] == null ? null : index.get(instituteOfSample[i]);
                if (j == null) {
                    throw new DataException("sample " + i + " names institute '" + instituteOfSample[i] + "' in column '"
                            + column + "', which is not one of the institutes " + institutes);
                }
                buckets.get(j).add(i);
            }
            return Assignment.of(institutes, buckets, "partitioning by column '" + column
                    + "': no sample names it");
        }
    }

    private static void checkInstitutes(List<String> institutes) {
        if (institutes.isEmpty()) {
            throw new DataException("no institutes to partition among");
        }
        if (institutes.stream().distinct().count() != institutes.size()) {
            throw new DataException("institutes " + institutes + " names an institute twice");
        }
    }

    private static List<List<Integer>> buckets(int k) {
        List<List<Integer>> b = new ArrayList<>(k);
        for (int j = 0; j < k; j++) {
            b.add(new ArrayList<>());
        }
        return b;
    }

    private static int[] identity(int n) {
        int[] a = new int[n];
        for (int i = 0; i < n; i++) {
            a[i] = i;
        }
        return a;
    }

    /** Fisher-Yates with the given generator, so the order depends only on the seed. */
    private static void shuffle(int[] a, RandomGenerator rng) {
        for (int i = a.length - 1; i > 0; i--) {
            int j = rng.nextInt(i + 1);
            int t = a[i];
            a[i] = a[j];
            a[j] = t;
        }
    }
}
