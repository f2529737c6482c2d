package org.fslspark.bench;

import org.apache.spark.SparkStatusTracker;
import org.apache.spark.sql.SparkSession;
import org.fslspark.config.Experiment;
import org.fslspark.config.ExperimentLoader;
import org.fslspark.metrics.RoundRecord;
import org.fslspark.runtime.FederatedTraining;
import org.fslspark.sweep.SweepSummary;
import org.fslspark.testbed.LocalTestbed;
import org.fslspark.testbed.TopologyLoader;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

import java.io.File;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Comparator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Random;
import java.util.Set;
import java.util.TreeSet;
import java.util.concurrent.Callable;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.stream.Collectors;

/**
 * What executor loss costs a run on the local multi-process test-bed (issue 15's benchmark): per algorithm, the same
 * experiment four times in one Spark application, (1) without round checkpoints (checkpoint.interval = 0,
 * fault.round-attempts = 1: nothing of the executors' state is collected), (2) with them and no fault, (3) with one
 * after every other round and no retries, (4) with them while a seeded schedule SIGKILLs a random site's executor JVM
 * in some rounds, a moment into the round's stage (the site's worker starts a new one; the driver reruns the round).
 * Prints rounds completed and retried, lost work, final accuracy against the fault-free run, and the checkpoints' cost
 * in seconds and bytes a round: from run 3, each checkpointed round against its two neighbours, which share its JVMs'
 * state of warm-up (comparing whole runs measured mostly how much faster the executors had become in the later run).
 * Prints figures, asserts nothing.
 */
@Command(name = "faults", mixinStandardHelpOptions = true,
        description = "Rounds of SplitFed-V2 and FSL-SAGE on the local test-bed while a seeded schedule kills a random executor "
                + "in some rounds: rounds completed and retried, lost work, final accuracy against the fault-free run, and "
                + "the cost of round checkpoints against a run without them.")
public final class FaultsBenchmark implements Callable<Integer> {
    @Option(names = "--config", description = "Base experiment (default: ${DEFAULT-VALUE}).")
    File config = new File("conf/quickstart.conf");
    @Option(names = "--topology", description = "Test-bed topology (default: ${DEFAULT-VALUE}).")
    Path topology = Path.of("conf/testbeds/aiedge.conf");
    @Option(names = "--algorithms", split = ",", description = "Algorithms (default: ${DEFAULT-VALUE}).")
    List<String> algorithms = List.of("splitfed-v2", "fsl-sage");
    @Option(names = "--rounds", description = "Rounds of every run (default: ${DEFAULT-VALUE}).")
    int rounds = 20;
    @Option(names = "--kills", description = "Rounds in which an executor is killed (default: ${DEFAULT-VALUE}; at most "
            + "rounds - 1: round 0 is left alone).")
    int kills = 5;
    @Option(names = "--subset", description = "Training images over all institutes (data.train-subset; default: "
            + "${DEFAULT-VALUE}).")
    int subset = 12000;
    @Option(names = "--seed", description = "Seed of the kill schedule (default: ${DEFAULT-VALUE}).")
    long seed = 15;
    @Option(names = "--master", paramLabel = "URL", description = "A running test-bed's master, started by jobs/testbed with "
            + "its state in --testbed (default: start the local test-bed there and stop it at the end).")
    String master;
    @Option(names = "--testbed", paramLabel = "DIR", description = "The test-bed's state directory, whose pid files name the "
            + "workers whose executors are killed (default: OUT/testbed).")
    Path testbed;
    @Option(names = "--emulate-links", description = "Emulate the topology's links (off: this machine's loopback).")
    boolean emulateLinks;
    @Option(names = "--set", paramLabel = "KEY=VALUE", description = "Override a key of the base experiment (repeatable).")
    List<String> overrides = new ArrayList<>();
    @Option(names = "--out", description = "Output directory (default: ${DEFAULT-VALUE}).")
    Path out = Path.of("out/bench-faults");

    /** Stages of a round's training (not the drivers' probes of executors): what a kill is aimed at. */
    static final String ROUND_STAGES = "SyncRound|OneWayRound|AlignmentRound|LocalRound";

    /**
     * A kill in round {@code round}: site {@code site}'s executor, once the round's training stage has run for
     * {@code fraction} of the fault-free run's mean stage time.
     */
    record Kill(int round, String site, double fraction) {
    }

    /** What happened to a kill: the round in progress when it landed, the executor's pid, when (seconds into the run). */
    record Landed(Kill kill, int inRound, long pid, double atSeconds) {
    }

    /**
     * One run: its rounds, each round's wall seconds (driver's view, from the previous round's end), the driver's seconds
     * writing checkpoints, and how it ended.
     */
    record Run(List<RoundRecord> rounds, List<Double> wallSeconds, List<Long> checkpointBytes, double writeSeconds,
               String error, Path out) {
        double finalAccuracy() {
            return rounds.isEmpty() ? Double.NaN : rounds.get(rounds.size() - 1).testAccuracy();
        }

        /** Wall seconds of rounds 1.. (round 0 warms up). */
        double wallAfterFirst() {
            return wallSeconds.stream().skip(1).mapToDouble(Double::doubleValue).sum();
        }
    }

    /** The four runs of an algorithm, the kills of its faulty one, and the rounds that aligned (FSL-SAGE). */
    record Result(String algorithm, Run plain, Run checkpointed, Run alternating, Run faulty, List<Landed> kills,
                  Map<Integer, Integer> retries, Set<Integer> aligned) {
    }

    @Override
    public Integer call() throws Exception {
        if (rounds < 2) {
            throw new IllegalArgumentException("--rounds must be >= 2: round 0 is a warm-up and never has a kill");
        }
        Files.createDirectories(out);
        Path state = testbed != null ? testbed : out.resolve("testbed");
        String url = master;
        if (url == null) {
            url = LocalTestbed.start(state, topology, 8 * 3600);
        }
        List<Kill> schedule = schedule();
        System.out.printf("Kill schedule (seed %d): %s%nLoad average (/proc/loadavg) at the start: %s%n", seed,
                schedule.stream().map(k -> String.format(Locale.ROOT, "round %d %s (%.0f%% into it)", k.round(), k.site(),
                        100 * k.fraction())).collect(Collectors.joining(", ")), StepBenchmark.loadAverage());
        List<Result> results = new ArrayList<>();
        List<String> security = overrides.stream().anyMatch(o -> o.startsWith("security.")) ? List.of()
                : TestbedKeys.settings(topology, out.resolve("keys"));
        try (BenchRuns runs = new BenchRuns()) {
            boolean prepare = true;
            for (String algorithm : algorithms) {
                List<String> keys = new ArrayList<>(security);
                keys.addAll(LocalTestbed.sparkSettings(state));
                keys.addAll(List.of("experiment=bench-faults", "data.train-subset=" + subset, "train.rounds=" + rounds,
                        "stop.target-accuracy=0", "stop.traffic-budget-bytes=0", "spark.master=\"" + url + "\"",
                        "testbed.topology=\"" + topology + "\"", "testbed.emulate-links=" + emulateLinks));
                keys.addAll(overrides);
                keys.add("algorithm=" + algorithm);
                Run plain = run(runs, keys, algorithm + "-no-checkpoints", prepare, List.of("checkpoint.interval=0",
                        "fault.round-attempts=1"), List.of());
                prepare = false;
                Run checkpointed = run(runs, keys, algorithm + "-fault-free", false, List.of("checkpoint.interval=1"), List.of());
                Run alternating = run(runs, keys, algorithm + "-every-other-round", false, List.of("checkpoint.interval=2",
                        "fault.round-attempts=1"), List.of());
                double stageSeconds = checkpointed.rounds().stream().skip(1).mapToDouble(RoundRecord::roundSeconds).average()
                        .orElse(1);
                List<Landed> landed = new ArrayList<>();
                Run faulty = run(runs, keys, algorithm + "-with-kills", false, List.of("checkpoint.interval=1"),
                        List.of(new Killer(state, schedule, stageSeconds, landed, seed)));
                Result r = new Result(algorithm, plain, checkpointed, alternating, faulty, landed, retries(faulty.out()),
                        alignedRounds(alternating.out()));
                results.add(r);
                Files.writeString(out.resolve("summary.md"), markdown(results));
            }
        } finally {
            if (master == null) {
                LocalTestbed.stop(state);
            }
        }
        System.out.printf("%n%s%nLoad average (/proc/loadavg) at the end: %s%nWritten: %s%n", markdown(results),
                StepBenchmark.loadAverage(), out.resolve("summary.md"));
        return 0;
    }

    /**
     * The seeded schedule: {@code kills} distinct rounds of 1..rounds-1, each with a site of the topology and how far into
     * the round's stages (as a fraction of the fault-free run's mean stage time) its executor dies.
     */
    List<Kill> schedule() {
        Random random = new Random(seed);
        List<String> sites = new ArrayList<>(new TreeSet<>(TopologyLoader.load(topology.toFile()).siteIds()));
        List<Integer> candidates = new ArrayList<>();
        for (int t = 1; t < rounds; t++) {
            candidates.add(t);
        }
        java.util.Collections.shuffle(candidates, random);
        List<Kill> out = new ArrayList<>();
        for (int t : new TreeSet<>(candidates.subList(0, Math.min(kills, candidates.size())))) {
            out.add(new Kill(t, sites.get(random.nextInt(sites.size())), 0.1 + 0.5 * random.nextDouble()));
        }
        return out;
    }

    /** Something that runs beside a training run, told when each round ends. */
    interface Beside {
        void start(SparkSession spark);

        void roundDone(int round);

        void stop() throws Exception;
    }

    private Run run(BenchRuns runs, List<String> keys, String name, boolean prepare, List<String> more, List<Beside> beside)
            throws IOException {
        List<String> all = new ArrayList<>(keys);
        all.addAll(more);
        Path dir = out.resolve(name);
        all.add("output=\"" + dir + "\"");
        Experiment e = ExperimentLoader.load(config, all);
        SparkSession spark = runs.session(e);
        if (prepare) {
            runs.prepare(e);
        }
        System.out.printf("%n== %s (%d rounds, %d training images)%n", name, rounds, subset);
        List<Double> wall = new ArrayList<>();
        List<Long> bytes = new ArrayList<>();
        List<RoundRecord> done = new ArrayList<>();
        long[] last = {System.nanoTime()};
        beside.forEach(b -> b.start(spark));
        String error = null;
        double writeSeconds = 0;
        try {
            writeSeconds = FederatedTraining.run(e, spark, true, r -> {
                long now = System.nanoTime();
                wall.add((now - last[0]) / 1e9);
                last[0] = now;
                done.add(r);
                bytes.add(size(dir.resolve("state/round-" + r.round())));
                BenchRuns.print(r);
                beside.forEach(b -> b.roundDone(r.round()));
            }).checkpointSeconds();
        } catch (RuntimeException failed) {
            error = failed.getMessage();
            System.out.println(name + " stopped: " + error);
        } finally {
            for (Beside b : beside) {
                try {
                    b.stop();
                } catch (Exception ex) {
                    System.out.println(name + ": " + ex.getMessage());
                }
            }
        }
        return new Run(done, wall, bytes, writeSeconds, error, dir);
    }

    /** Bytes of the files under {@code dir} (0 when it does not exist). */
    static long size(Path dir) {
        if (!Files.isDirectory(dir)) {
            return 0;
        }
        try (var files = Files.walk(dir)) {
            return files.filter(Files::isRegularFile).mapToLong(f -> f.toFile().length()).sum();
        } catch (IOException e) {
            return 0;
        }
    }

    /** Retried attempts by round, from the run's events.csv. */
    static Map<Integer, Integer> retries(Path run) throws IOException {
        Map<Integer, Integer> out = new java.util.TreeMap<>();
        Path events = run.resolve("events.csv");
        if (!Files.exists(events)) {
            return out;
        }
        for (String line : Files.readAllLines(events).stream().skip(1).toList()) {
            String[] f = line.split(",", 4);
            if (f.length > 2 && (f[2].equals("retried") || f[2].equals("failed"))) {
                out.merge(Integer.parseInt(f[0]), 1, Integer::sum);
            }
        }
        return out;
    }

    /**
     * Kills the scheduled executors: after round t-1 ends, waits for round t's training stage, then for the scheduled
     * fraction of the fault-free run's mean stage time, and SIGKILLs a random executor JVM of the site's worker (a
     * child process of the worker whose pid the test-bed's state directory names).
     */
    static final class Killer implements Beside {
        private SparkSession spark;
        private final Path state;
        private final List<Kill> schedule;
        private final double stageSeconds;
        private final List<Landed> landed;
        private final AtomicInteger completed = new AtomicInteger();
        private final ExecutorService thread = Executors.newSingleThreadExecutor(r -> {
            Thread t = new Thread(r, "bench-faults-killer");
            t.setDaemon(true);
            return t;
        });
        private final Random random;
        private Future<?> work;
        private long start;

        Killer(Path state, List<Kill> schedule, double stageSeconds, List<Landed> landed, long seed) {
            this.state = state;
            this.schedule = schedule;
            this.stageSeconds = stageSeconds;
            this.landed = landed;
            this.random = new Random(seed); // which of a site's executors dies, when it has several
        }

        @Override
        public void start(SparkSession session) {
            spark = session;
            start = System.nanoTime();
            work = thread.submit(() -> {
                for (Kill k : schedule) {
                    awaitCompleted(k.round());
                    awaitRoundStage();
                    Thread.sleep((long) (1000 * k.fraction() * stageSeconds));
                    long pid = kill(k.site());
                    Landed l = new Landed(k, completed.get(), pid, (System.nanoTime() - start) / 1e9);
                    synchronized (landed) {
                        landed.add(l);
                    }
                    System.out.printf(Locale.ROOT, "killed %s's executor (pid %d) during round %d, %.1f s into the run%n",
                            k.site(), pid, l.inRound(), l.atSeconds());
                }
                return null;
            });
        }

        @Override
        public void roundDone(int round) {
            completed.set(round + 1);
        }

        @Override
        public void stop() throws Exception {
            work.cancel(true);
            thread.shutdownNow();
            if (!thread.awaitTermination(30, TimeUnit.SECONDS)) {
                throw new IllegalStateException("the killer did not stop");
            }
        }

        private void awaitCompleted(int n) throws InterruptedException {
            while (completed.get() < n) {
                Thread.sleep(50);
            }
        }

        private void awaitRoundStage() throws InterruptedException {
            SparkStatusTracker tracker = spark.sparkContext().statusTracker();
            while (Arrays.stream(tracker.getActiveStageIds()).mapToObj(tracker::getStageInfo)
                    .noneMatch(i -> i.isDefined() && i.get().name().matches(".*(" + ROUND_STAGES + ").*"))) {
                Thread.sleep(50);
            }
        }

        /** SIGKILLs a random executor JVM of {@code site}'s worker, waiting (up to 5 minutes) for the site to have one. */
        private long kill(String site) throws IOException, InterruptedException {
            long worker = Long.parseLong(Files.readString(state.resolve("pids/worker-" + site + ".pid")).trim());
            long deadline = System.nanoTime() + TimeUnit.MINUTES.toNanos(5);
            while (true) {
                List<ProcessHandle> executors = ProcessHandle.of(worker).orElseThrow(() -> new IllegalStateException(
                                "the worker of site " + site + " (pid " + worker + ") is gone")).children()
                        .filter(p -> p.info().commandLine().orElse("").contains("CoarseGrainedExecutorBackend"))
                        .sorted(Comparator.comparingLong(ProcessHandle::pid)).toList();
                if (!executors.isEmpty()) {
                    ProcessHandle victim = executors.get(random.nextInt(executors.size()));
                    victim.destroyForcibly();
                    return victim.pid();
                }
                if (System.nanoTime() > deadline) {
                    throw new IllegalStateException("site " + site + " has had no executor for 5 minutes");
                }
                Thread.sleep(200);
            }
        }
    }

    String markdown(List<Result> results) {
        StringBuilder b = new StringBuilder(String.format(Locale.ROOT, "%d rounds, %d training images, executors killed in "
                + "%d rounds (seed %d); round 0 of every run is a warm-up, left out of the time figures.%n%n| |", rounds, subset,
                Math.min(kills, rounds - 1), seed));
        results.forEach(r -> b.append(' ').append(r.algorithm()).append(" |"));
        b.append("\n| --- |").append(" ---: |".repeat(results.size())).append('\n');
        Map<String, java.util.function.Function<Result, String>> rows = new LinkedHashMap<>();
        rows.put("rounds completed, with kills", r -> r.faulty().rounds().size() + " of " + rounds
                + (r.faulty().error() == null ? "" : " (stopped)"));
        rows.put("executors killed (in rounds)", r -> r.kills().size() + " (" + r.kills().stream()
                .map(l -> String.valueOf(l.inRound())).collect(Collectors.joining(", ")) + ")");
        rows.put("rounds retried (attempts)", r -> r.retries().size() + " (" + r.retries().values().stream()
                .mapToInt(Integer::intValue).sum() + ")");
        rows.put("lost work, s (retried rounds' wall time over the fault-free run's)", r -> f("%.1f", lostSeconds(r)));
        rows.put("run time, s: with kills / fault-free", r -> f("%.1f", sum(r.faulty().wallSeconds())) + " / "
                + f("%.1f", sum(r.checkpointed().wallSeconds())));
        rows.put("final accuracy: with kills / fault-free", r -> f("%.4f", r.faulty().finalAccuracy()) + " / "
                + f("%.4f", r.checkpointed().finalAccuracy()));
        rows.put("round wall time, s: without checkpoints / with them (runs 1, 2)", r -> f("%.2f", perRound(r.plain()))
                + " / " + f("%.2f", perRound(r.checkpointed())));
        rows.put("round checkpoints: s a round, paired (95% interval; pairs)", r -> {
            SweepSummary.Stat cost = pairedCost(r);
            return f("%.3f", cost.mean()) + " (" + f("%.3f", cost.low()) + ".." + f("%.3f", cost.high()) + "; " + cost.n() + ")";
        });
        rows.put("round checkpoints: % of a round without, paired (95% interval)", r -> {
            SweepSummary.Stat cost = pairedCost(r);
            double without = pairs(r.alternating(), r.aligned()).stream().mapToDouble(Pair::neighbours).average().orElse(Double.NaN);
            return f("%.1f", 100 * cost.mean() / without) + "% (" + f("%.1f", 100 * cost.low() / without) + ".."
                    + f("%.1f", 100 * cost.high() / without) + "%)";
        });
        rows.put("of which the driver's writes, s a round", r -> f("%.3f", r.checkpointed().writeSeconds()
                / Math.max(1, r.checkpointed().rounds().size())));
        rows.put("round checkpoints: MB a round", r -> f("%.2f", r.checkpointed().checkpointBytes().stream()
                .mapToLong(Long::longValue).average().orElse(0) / 1e6));
        rows.forEach((what, value) -> {
            b.append("| ").append(what).append(" |");
            results.forEach(r -> b.append(' ').append(value.apply(r)).append(" |"));
            b.append('\n');
        });
        return b.toString();
    }

    /**
     * The extra wall time of the rounds the faulty run retried, over the same rounds of the fault-free run: the failed
     * attempts, the wait for the site's new executor, and rebuilding its state.
     */
    static double lostSeconds(Result r) {
        double lost = 0;
        for (int t : r.retries().keySet()) {
            if (t < r.faulty().wallSeconds().size() && t < r.checkpointed().wallSeconds().size()) {
                lost += r.faulty().wallSeconds().get(t) - r.checkpointed().wallSeconds().get(t);
            }
        }
        return lost;
    }

    /** A checkpointed round's wall time over the mean of its two neighbours', and that mean. */
    record Pair(double cost, double neighbours) {
    }

    /**
     * The checkpointed rounds of the run that writes one after every other round (rounds 1, 3, 5, ...), each against its
     * two neighbours, which write none. A round whose pair touches round 0 (the warm-up), the last round (which always
     * checkpoints) or an alignment round (FSL-SAGE's are several times longer) is left out.
     */
    static List<Pair> pairs(Run alternating, Set<Integer> aligned) {
        List<Double> w = alternating.wallSeconds();
        List<Pair> out = new ArrayList<>();
        for (int t = 3; t + 1 < w.size() - 1; t += 2) {
            if (!aligned.contains(t - 1) && !aligned.contains(t) && !aligned.contains(t + 1)) {
                double neighbours = (w.get(t - 1) + w.get(t + 1)) / 2;
                out.add(new Pair(w.get(t) - neighbours, neighbours));
            }
        }
        return out;
    }

    /** The mean of the paired costs with its 95% interval (Student's t). */
    private static SweepSummary.Stat pairedCost(Result r) {
        return SweepSummary.of("seconds", pairs(r.alternating(), r.aligned()).stream().map(Pair::cost).toList(), 1);
    }

    /** The rounds in which the run aligned auxiliary models (its alignment.csv; none for other algorithms). */
    static Set<Integer> alignedRounds(Path run) throws IOException {
        Set<Integer> out = new TreeSet<>();
        Path alignment = run.resolve("alignment.csv");
        if (Files.exists(alignment)) {
            for (String line : Files.readAllLines(alignment).stream().skip(1).toList()) {
                out.add(Integer.parseInt(line.split(",", 4)[2]));
            }
        }
        return out;
    }

    private static double perRound(Run run) {
        return run.wallSeconds().size() < 2 ? Double.NaN : run.wallAfterFirst() / (run.wallSeconds().size() - 1);
    }

    private static double sum(List<Double> values) {
        return values.stream().mapToDouble(Double::doubleValue).sum();
    }

    private static String f(String format, double v) {
        return String.format(Locale.ROOT, format, v);
    }
}
