package org.fslspark.sweep;

import com.univocity.parsers.csv.CsvParser;
import com.univocity.parsers.csv.CsvParserSettings;
import org.apache.spark.sql.SparkSession;
import org.fslspark.config.ConfigException;
import org.fslspark.config.ExperimentLoader;
import org.fslspark.metrics.ResultsWriter;
import org.fslspark.metrics.RoundRecord;
import org.fslspark.runtime.Fixtures;
import org.fslspark.runtime.Sparks;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.io.StringReader;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

class SweepTest {
    /** Three seeds' best accuracies, worked by hand: mean 0.83, sd sqrt(0.0013) = 0.036056, t(0.975, 2) = 4.302653. */
    @Test
    void aPointsStatisticsAreTheHandComputedOnes() {
        SweepSummary.Stat s = SweepSummary.of("best_accuracy", List.of(0.80, 0.82, 0.87), 3);
        assertEquals(0.83, s.mean(), 1e-12);
        assertEquals(0.0360555, s.sd(), 1e-6);
        double half = 4.302653 * 0.0360555 / Math.sqrt(3);
        assertEquals(0.83 - half, s.low(), 1e-6);
        assertEquals(0.83 + half, s.high(), 1e-6);
        assertEquals("0.8300 ± 0.0896", s.text());
        SweepSummary.Stat one = SweepSummary.of("mb_to_0.80", List.of(12.5), 3);
        assertEquals(12.5, one.mean());
        assertTrue(Double.isNaN(one.low()) && Double.isNaN(one.sd()));
        assertEquals("12.5 (1/3 seeds)", one.text());
        assertEquals("not reached", SweepSummary.of("mb_to_0.85", List.of(), 3).text());
    }

    @Test
    void aGridIsTheCrossProductOfItsKeysFirstKeySlowest() {
        Grid g = Grid.parse(List.of("algorithm=[fedavg, \"sl\"]", "train.optimizer.learning-rate=[0.01,1e-3]", "seed-free=x"));
        List<Map<String, String>> points = g.points();
        assertEquals(4, points.size());
        // Values as HOCON (strings quoted), to be given back as KEY=VALUE.
        assertEquals(List.of("\"fedavg\"", "0.01", "\"x\""), List.copyOf(points.get(0).values()));
        assertEquals(List.of("\"fedavg\"", "0.001", "\"x\""), List.copyOf(points.get(1).values()));
        assertEquals(List.of("\"sl\"", "0.01", "\"x\""), List.copyOf(points.get(2).values()));
        assertEquals("algorithm=sl/train.optimizer.learning-rate=0.01/seed-free=x", Grid.directory(points.get(2)));
        assertEquals("algorithm=sl, train.optimizer.learning-rate=0.01, seed-free=x", Grid.label(points.get(2)));
        assertEquals("train_optimizer_learning_rate", Sweep.column("train.optimizer.learning-rate"));
        Map<String, String> codecs = Grid.parse(List.of("transport=[{gradient-codec=int8,activation-codec=\"topk:0.1\"}]")).points().get(0);
        assertEquals("transport.activation-codec=topk:0.1, transport.gradient-codec=int8", Grid.label(codecs));
        assertEquals("transport=__activation-codec___topk_0.1___gradient-codec___int8__", Grid.directory(codecs));
        assertThrows(IllegalArgumentException.class, () -> Grid.parse(List.of("algorithm")));
        assertThrows(IllegalArgumentException.class, () -> Grid.parse(List.of("algorithm=[]")));
        assertThrows(IllegalArgumentException.class, () -> Grid.parse(List.of("a=[1]", "a=[2]")));
    }

    /**
     * Seeds A..B plan exactly the runs that 1..B plans for those seeds (same outputs, same splits), so two processes can
     * share a sweep's seeds and a sweep over 1..B on the merged output reuses them.
     */
    @Test
    void aSeedRangePlansTheFullSweepsRunsForItsSeeds(@TempDir Path dir) {
        Grid grid = Grid.parse(List.of("algorithm=[fedavg,sl]"));
        List<String> base = List.of("train.rounds=1");
        String out = dir.resolve("sweep").toString();
        List<Sweep.Planned> all = Sweep.plan(new Sweep.Spec("conf/quickstart.conf", base, grid, 3, out, List.of(0.8)));
        List<Sweep.Planned> part = Sweep.plan(new Sweep.Spec("conf/quickstart.conf", base, grid, Seeds.parse("2..3"), out,
                List.of(0.8)));
        List<Sweep.Planned> expected = all.stream().filter(p -> p.seed() >= 2).toList();
        assertEquals(List.of(2, 3, 2, 3), part.stream().map(Sweep.Planned::seed).toList());
        for (int i = 0; i < part.size(); i++) {
            assertEquals(expected.get(i).title(), part.get(i).title());
            assertEquals(expected.get(i).experiment().output(), part.get(i).experiment().output());
            assertEquals(expected.get(i).experiment().data().location(), part.get(i).experiment().data().location());
        }
        assertEquals(new Seeds(1, 3), Seeds.parse("3"));
        assertEquals(new Seeds(4, 4), Seeds.parse(" 4..4 "));
        for (String bad : List.of("0", "3..2", "0..2", "two", "1..", "")) {
            assertThrows(IllegalArgumentException.class, () -> Seeds.parse(bad), bad);
        }
    }

    /**
     * Two points x two seeds of FedAvg, two rounds each; the first sweep is stopped by an error in run 3 after its
     * round 0 (as a killed driver would stop it, after that round's checkpoint). The re-run reuses runs 1 and 2
     * untouched, resumes run 3 from its checkpoint (its round 0 row, time columns included, is the killed attempt's)
     * and writes every table with every round of every run once.
     */
    @Test
    @Tag("e2e")
    void aStoppedSweepReRunReusesFinishedRunsAndSummarisesEverySeed(@TempDir Path dir) throws IOException {
        List<String> base = List.of(Fixtures.smallTestSet(dir, 500), "data.train-subset=400", "train.rounds=2",
                "train.batch-size=50", "train.eval-batch-size=500", "spark.master=\"local[5]\"", "experiment=sweep-test");
        Sweep.Spec spec = new Sweep.Spec("conf/quickstart.conf", base,
                Grid.parse(List.of("algorithm=[fedavg]", "train.local-epochs=[1,2]")), 2, dir.resolve("sweep").toString(),
                List.of(0.3, 0.99));
        List<Sweep.Planned> plan = Sweep.plan(spec);
        assertEquals(4, plan.size());
        assertEquals(plan.get(0).experiment().data().location(), plan.get(2).experiment().data().location(),
                "one split per seed, whatever the point");
        assertFalse(plan.get(0).experiment().data().location().equals(plan.get(1).experiment().data().location()));
        SparkSession spark = Sparks.session(ExperimentLoader.load(null, List.of("spark.master=local[5]")));
        List<String> described = new java.util.concurrent.CopyOnWriteArrayList<>();
        spark.sparkContext().addSparkListener(new org.apache.spark.scheduler.SparkListener() {
            @Override
            public void onJobStart(org.apache.spark.scheduler.SparkListenerJobStart job) {
                described.add(String.valueOf(job.properties().getProperty("spark.job.description")));
            }
        });
        try {
            RuntimeException stop = new RuntimeException("stopped");
            assertThrows(RuntimeException.class, () -> Sweep.run(spark, spec, null, new Sweep.Listener() {
                @Override
                public void round(Sweep.Planned p, RoundRecord r) {
                    if (p.title().equals(plan.get(2).title()) && r.round() == 0) {
                        throw stop;
                    }
                }
            }));
            String killed = Files.readString(Path.of(plan.get(2).experiment().output(), "rounds.csv"));
            String first = Files.readString(Path.of(plan.get(0).experiment().output(), "rounds.csv"));

            List<Boolean> reused = new ArrayList<>();
            Sweep.Result r = Sweep.run(spark, spec, null, new Sweep.Listener() {
                @Override
                public void started(Sweep.Planned p, int index, int of, boolean wasDone) {
                    reused.add(wasDone);
                }
            });
            assertEquals(List.of(true, true, false, false), reused);
            assertEquals(first, Files.readString(Path.of(plan.get(0).experiment().output(), "rounds.csv")));
            List<RoundRecord> resumed = ResultsWriter.readRounds(Path.of(plan.get(2).experiment().output(), "rounds.csv"));
            assertEquals(List.of(0, 1), resumed.stream().map(RoundRecord::round).toList());
            assertEquals(killed.lines().skip(1).findFirst().orElseThrow(),
                    Files.readString(Path.of(plan.get(2).experiment().output(), "rounds.csv")).lines().skip(1).findFirst().orElseThrow(),
                    "run 3 started again instead of resuming from its round-0 checkpoint");

            List<String[]> sweep = csv(dir.resolve("sweep/sweep.csv"));
            assertEquals(List.of("train_local_epochs", "seed", "experiment", "algorithm"), List.of(sweep.get(0)).subList(0, 4));
            assertEquals(1 + 4 * 2, sweep.size());
            assertEquals(List.of("1", "1", "sweep-test", "fedavg"), List.of(sweep.get(1)).subList(0, 4));
            assertEquals(List.of("2", "2"), List.of(sweep.get(8)).subList(0, 2));

            for (Map<String, String> point : spec.grid().points()) {
                List<Double> best = r.runs().stream().filter(run -> run.plan().point().equals(point))
                        .map(run -> run.rounds().stream().mapToDouble(RoundRecord::testAccuracy).max().orElseThrow()).toList();
                assertEquals(2, best.size());
                SweepSummary.Stat s = r.summary().get(point).get(0);
                assertEquals("best_accuracy", s.metric());
                assertEquals(2, s.n());
                assertEquals((best.get(0) + best.get(1)) / 2, s.mean(), 1e-12);
                assertTrue(s.low() <= s.mean() && s.mean() <= s.high(), s.toString());
            }
            List<String[]> summary = csv(dir.resolve("sweep/summary.csv"));
            assertEquals(List.of("algorithm", "train_local_epochs", "metric", "n", "seeds", "mean", "sd", "ci95_low", "ci95_high"),
                    List.of(summary.get(0)));
            assertEquals(1 + 2 * r.summary().values().iterator().next().size(), summary.size());
            String md = Files.readString(dir.resolve("sweep/summary.md"));
            assertTrue(md.contains("| algorithm=fedavg, train.local-epochs=2 |"), md);
            assertTrue(md.contains("mb_to_0.99"), md);
            for (String f : List.of("sweep.parquet", "accuracy_vs_traffic.png", "accuracy_vs_time.png")) {
                assertTrue(Files.exists(dir.resolve("sweep").resolve(f)), f);
            }
            // What the Spark UI shows a watcher for each round's jobs.
            assertTrue(described.contains("round 1 · fedavg · clients"), described.toString());
            assertEquals(8, spark.read().parquet(dir.resolve("sweep/sweep.parquet").toString()).count());

            // A finished run is not taken for another experiment's results: a changed key is refused, named.
            for (String change : List.of("train.batch-size=40", "train.rounds=3")) {
                List<String> overrides = new ArrayList<>(base);
                overrides.add(change);
                Sweep.Spec changed = new Sweep.Spec(spec.config(), overrides, spec.grid(), 2, spec.out(), spec.targets());
                ConfigException e = assertThrows(ConfigException.class, () -> Sweep.run(spark, changed, null, new Sweep.Listener() {
                }));
                String was = change.startsWith("train.rounds") ? "2" : "50";
                assertTrue(e.getMessage().contains(plan.get(0).title()) && e.getMessage().contains(change.replace("=", " = ")
                        + " differs from the saved run's " + was), e.getMessage());
            }
        } finally {
            spark.stop();
        }
    }

    private static List<String[]> csv(Path p) throws IOException {
        CsvParserSettings s = new CsvParserSettings();
        return new CsvParser(s).parseAll(new StringReader(Files.readString(p)));
    }
}
