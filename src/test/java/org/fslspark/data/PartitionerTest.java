package org.fslspark.data;

import org.junit.jupiter.api.Test;

import java.util.Arrays;
import java.util.List;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

class PartitionerTest {
    private static final List<String> SITES = List.of("osu", "utaustin", "umich", "iitb");
    private static final int CLASSES = 10;
    private static final int[] LABELS = labels(10_000);

    /** Balanced labels in a scrambled order, so no scheme gets its order for free. */
    private static int[] labels(int n) {
        int[] l = new int[n];
        for (int i = 0; i < n; i++) {
            l[i] = (int) ((i * 7919L) % CLASSES);
        }
        return l;
    }

    private static void assertDisjointAndComplete(Partitioner.Assignment a, int n) {
        int[] owner = new int[n];
        Arrays.fill(owner, -1);
        int j = 0;
        for (Map.Entry<String, int[]> e : a.shares().entrySet()) {
            for (int i : e.getValue()) {
                assertEquals(-1, owner[i], "sample " + i + " assigned twice");
                owner[i] = j;
            }
            j++;
        }
        for (int i = 0; i < n; i++) {
            assertTrue(owner[i] >= 0, "sample " + i + " assigned to nobody");
        }
    }

    private static double[][] classShares(Partitioner.Assignment a) {
        double[][] f = new double[SITES.size()][CLASSES];
        for (int j = 0; j < SITES.size(); j++) {
            int[] s = a.of(SITES.get(j));
            for (int i : s) {
                f[j][LABELS[i]] += 1.0 / s.length;
            }
        }
        return f;
    }

    @Test
    void everySchemeAssignsEverySampleToExactlyOneInstitute() {
        String[] column = new String[LABELS.length];
        for (int i = 0; i < column.length; i++) {
            column[i] = SITES.get(i * 31 % SITES.size());
        }
        for (Partitioner p : List.of(Partitioner.iid(1), Partitioner.dirichlet(0.3, 1), Partitioner.dirichlet(50, 1),
                Partitioner.byColumn("institute", column))) {
            Partitioner.Assignment a = p.assign(LABELS, CLASSES, SITES);
            assertEquals(SITES, List.copyOf(a.shares().keySet()), p.toString());
            assertDisjointAndComplete(a, LABELS.length);
        }
    }

    @Test
    void theSameSeedGivesTheSameSplitAndAnotherSeedAnotherSplit() {
        for (long seed : new long[]{1, 42}) {
            for (boolean dirichlet : new boolean[]{false, true}) {
                Partitioner p = dirichlet ? Partitioner.dirichlet(0.5, seed) : Partitioner.iid(seed);
                Partitioner q = dirichlet ? Partitioner.dirichlet(0.5, seed + 1) : Partitioner.iid(seed + 1);
                Partitioner.Assignment a = p.assign(LABELS, CLASSES, SITES);
                Partitioner.Assignment b = p.assign(LABELS, CLASSES, SITES);
                Partitioner.Assignment c = q.assign(LABELS, CLASSES, SITES);
                for (String s : SITES) {
                    assertArrayEquals(a.of(s), b.of(s), p + " for " + s);
                }
                assertFalse(SITES.stream().allMatch(s -> Arrays.equals(a.of(s), c.of(s))), p + " vs " + q);
            }
        }
    }

    @Test
    void iidSharesDifferInSizeByAtMostOneAndFollowTheLabelDistribution() {
        Partitioner.Assignment a = Partitioner.iid(7).assign(labels(10_003), CLASSES, SITES);
        int min = SITES.stream().mapToInt(s -> a.of(s).length).min().orElseThrow();
        int max = SITES.stream().mapToInt(s -> a.of(s).length).max().orElseThrow();
        assertTrue(max - min <= 1, min + ".." + max);
        for (double[] f : classShares(Partitioner.iid(7).assign(LABELS, CLASSES, SITES))) {
            for (double x : f) {
                assertEquals(0.1, x, 0.03);
            }
        }
    }

    @Test
    void dirichletWithSmallAlphaConcentratesEachInstituteOnFewClasses() {
        double[][] f = classShares(Partitioner.dirichlet(0.05, 3).assign(LABELS, CLASSES, SITES));
        double meanTop = Arrays.stream(f).mapToDouble(r -> Arrays.stream(r).max().orElseThrow()).average().orElseThrow();
        assertTrue(meanTop > 0.3, "mean largest class fraction " + meanTop + " should be far above uniform 0.1");
    }

    @Test
    void dirichletWithLargeAlphaIsNearlyUniform() {
        Partitioner.Assignment a = Partitioner.dirichlet(1000, 3).assign(LABELS, CLASSES, SITES);
        for (double[] r : classShares(a)) {
            for (double x : r) {
                assertEquals(0.1, x, 0.02);
            }
        }
        for (String s : SITES) {
            assertEquals(2500, a.of(s).length, 150);
        }
    }

    @Test
    void nonPositiveAlphaIsAnErrorNamingTheKey() {
        for (double alpha : new double[]{0, -1, Double.NaN}) {
            DataException e = assertThrows(DataException.class, () -> Partitioner.dirichlet(alpha, 1));
            assertTrue(e.getMessage().contains("partition.alpha"), e.getMessage());
        }
    }

    @Test
    void anInstituteLeftWithoutSamplesIsAnErrorNamingIt() {
        DataException iid = assertThrows(DataException.class, () -> Partitioner.iid(1).assign(new int[]{0, 1, 2}, 3, SITES));
        assertTrue(iid.getMessage().contains("'osu'") && iid.getMessage().contains("no samples"), iid.getMessage());

        String[] column = {"osu", "umich", "osu"};
        DataException col = assertThrows(DataException.class,
                () -> Partitioner.byColumn("institute", column).assign(new int[]{0, 1, 0}, 2, List.of("osu", "umich", "iitb")));
        assertTrue(col.getMessage().contains("'iitb'") && col.getMessage().contains("no samples"), col.getMessage());

        // Two classes among many institutes with a tiny alpha: each class lands almost whole on one institute.
        List<String> many = List.of("a", "b", "c", "d", "e", "f");
        DataException dir = assertThrows(DataException.class,
                () -> Partitioner.dirichlet(0.001, 1).assign(new int[]{0, 1, 0, 1, 0, 1, 0, 1}, 2, many));
        assertTrue(dir.getMessage().contains("no samples") && dir.getMessage().contains("partition.alpha"), dir.getMessage());
    }

    @Test
    void aColumnValueNamingNoListedInstituteIsAnErrorNamingSampleAndValue() {
        String[] column = {"osu", "mit", "osu"};
        DataException e = assertThrows(DataException.class,
                () -> Partitioner.byColumn("institute", column).assign(new int[]{0, 1, 0}, 2, List.of("osu")));
        assertTrue(e.getMessage().contains("sample 1") && e.getMessage().contains("'mit'"), e.getMessage());
    }

    @Test
    void byColumnFollowsTheColumnExactly() {
        String[] column = {"b", "a", "b", "b", "a"};
        Partitioner.Assignment a = Partitioner.byColumn("site", column).assign(new int[5], 1, List.of("a", "b"));
        assertArrayEquals(new int[]{1, 4}, a.of("a"));
        assertArrayEquals(new int[]{0, 2, 3}, a.of("b"));
    }
}
