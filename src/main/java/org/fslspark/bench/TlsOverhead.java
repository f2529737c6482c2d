package org.fslspark.bench;

import org.fslspark.config.ExperimentLoader;
import org.fslspark.metrics.RoundRecord;
import org.fslspark.testbed.LocalTestbed;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

import java.io.File;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.EnumMap;
import java.util.List;
import java.util.Map;
import java.util.Locale;
import java.util.concurrent.Callable;

/**
 * What mutual TLS and Spark's own encryption cost SplitFed-V2 on the local multi-process test-bed: the same experiment
 * in plain TCP, over mutual TLS, and over mutual TLS with Spark's network and I/O encryption on
 * ({@code spark.network.crypto.enabled}, {@code spark.io.encryption.enabled}), each for {@code --rounds} rounds. The
 * test-bed authenticates every application (Spark's {@code spark.authenticate}, a handshake per connection), so all
 * three run with it; the first two in turn in one Spark application without Spark's encryption, the third in one with
 * it. In each application, {@code --warmup} runs of its variants come first and are not counted: the executors are new
 * JVMs whose code (the cipher's above all) is compiled while they run, which a run of hours pays once and a run of
 * seconds pays throughout. Round 0 of each counted run is not counted either. Per variant:
 * seconds per round, milliseconds per minibatch exchange (round time over the minibatches one client exchanges), wire
 * and payload bytes per round (of the project's own links: Spark's encryption changes its own traffic, the plan's
 * broadcast and the tasks' results, which no meter counts). Prints figures, asserts nothing.
 */
@Command(name = "tls", mixinStandardHelpOptions = true,
        description = "Per-batch round time and wire bytes of SplitFed-V2 on the local test-bed in plain TCP, over mutual TLS, "
                + "and over mutual TLS with Spark's network and I/O encryption, side by side (keys provisioned under OUT/keys).")
public final class TlsOverhead implements Callable<Integer> {
    @Option(names = "--config", description = "Base experiment (default: ${DEFAULT-VALUE}).")
    File config = new File("conf/quickstart.conf");
    @Option(names = "--topology", description = "Test-bed topology (default: ${DEFAULT-VALUE}).")
    Path topology = Path.of("conf/testbeds/aiedge.conf");
    @Option(names = "--master", paramLabel = "URL", description = "A running test-bed's master, started by jobs/testbed with "
            + "its state in --testbed (default: start the local test-bed there and stop it at the end).")
    String master;
    @Option(names = "--testbed", paramLabel = "DIR", description = "The test-bed's state directory, whose secret the "
            + "applications authenticate with (default: OUT/testbed).")
    Path testbed;
    @Option(names = "--rounds", description = "Rounds per run, the first not counted (default: ${DEFAULT-VALUE}).")
    int rounds = 3;
    @Option(names = "--repeats", description = "Counted runs of each variant (default: ${DEFAULT-VALUE}).")
    int repeats = 1;
    @Option(names = "--warmup", description = "Runs of each variant before the counted ones, on the same executors "
            + "(default: ${DEFAULT-VALUE}).")
    int warmup = 1;
    @Option(names = "--emulate-links", description = "Emulate the topology's links (off: this machine's loopback, so the "
            + "figures show encryption's own cost).")
    boolean emulateLinks;
    @Option(names = "--set", paramLabel = "KEY=VALUE", description = "Override a key of the base experiment (repeatable).")
    List<String> overrides = new ArrayList<>();
    @Option(names = "--out", description = "Output directory (default: ${DEFAULT-VALUE}).")
    Path out = Path.of("out/bench-tls");

    /** The variants, in the order they run and print. */
    enum Variant {
        PLAIN("plain TCP", "plain", false, false),
        TLS("mutual TLS 1.3", "tls", true, false),
        TLS_AND_SPARK("TLS + Spark encryption", "tls-spark", true, true);

        final String title;
        final String name;
        final boolean tls;
        final boolean sparkEncryption;

        Variant(String title, String name, boolean tls, boolean sparkEncryption) {
            this.title = title;
            this.name = name;
            this.tls = tls;
            this.sparkEncryption = sparkEncryption;
        }
    }

    /** Counted rounds of one variant. */
    record Totals(int rounds, double seconds, long batches, int clients, long wireBytes, long payloadBytes) {
        Totals plus(Totals o) {
            return new Totals(rounds + o.rounds, seconds + o.seconds, batches + o.batches, clients, wireBytes + o.wireBytes,
                    payloadBytes + o.payloadBytes);
        }

        double secondsPerRound() {
            return seconds / rounds;
        }

        /** The round's time over the minibatches one client exchanges in it (clients work in parallel). */
        double millisPerBatch() {
            return 1e3 * seconds / ((double) batches / clients);
        }
    }

    @Override
    public Integer call() throws Exception {
        if (rounds < 2) {
            throw new IllegalArgumentException("--rounds must be >= 2: the first round of a run is a warm-up");
        }
        Files.createDirectories(out);
        Path state = testbed != null ? testbed : out.resolve("testbed");
        String url = master;
        if (url == null) {
            url = LocalTestbed.start(state, topology, 8 * 3600);
        }
        List<String> keys = TestbedKeys.settings(topology, out.resolve("keys"));
        List<String> authentication = LocalTestbed.sparkSettings(state).stream()
                .filter(k -> !k.contains("crypto") && !k.contains("io.encryption")).toList();
        if (authentication.isEmpty()) {
            System.out.println("The test-bed in " + state + " runs without Spark's authentication (jobs/testbed start --insecure): "
                    + "Spark's encryption needs it, so its variant is left out.");
        }
        System.out.printf("Load average (/proc/loadavg) at the start: %s%n", StepBenchmark.loadAverage());
        Map<Variant, Totals> totals = new EnumMap<>(Variant.class);
        boolean prepare = true;
        try {
            // One Spark application per setting of Spark's encryption: it is fixed when the application starts.
            for (boolean sparkEncryption : authentication.isEmpty() ? new boolean[]{false} : new boolean[]{false, true}) {
                try (BenchRuns runs = new BenchRuns()) {
                    for (int r = -warmup; r < repeats; r++) {
                        for (Variant v : Variant.values()) {
                            if (v.sparkEncryption != sparkEncryption) {
                                continue;
                            }
                            String name = v.name + (r < 0 ? "-warmup" + (warmup + r) : "-" + r);
                            List<String> all = new ArrayList<>(overrides);
                            all.addAll(List.of("experiment=bench-tls", "algorithm=splitfed-v2", "train.rounds=" + rounds,
                                    "checkpoint.interval=0", "stop.target-accuracy=0", "stop.traffic-budget-bytes=0",
                                    "spark.master=\"" + url + "\"", "testbed.topology=\"" + topology + "\"",
                                    "testbed.emulate-links=" + emulateLinks, "output=\"" + out.resolve(name) + "\""));
                            all.addAll(authentication);
                            all.add("spark.conf.\"spark.network.crypto.enabled\"=" + v.sparkEncryption);
                            all.add("spark.conf.\"spark.io.encryption.enabled\"=" + v.sparkEncryption);
                            all.addAll(v.tls ? keys : List.of());
                            all.add("security.require-tls=" + v.tls);
                            var e = ExperimentLoader.load(config, all);
                            List<RoundRecord> done = runs.run(e, prepare, name + " on the test-bed " + topology);
                            prepare = false;
                            if (r >= 0) {
                                totals.merge(v, totals(done, out.resolve(name).resolve("traffic.csv"), e.institutes().size()),
                                        Totals::plus);
                            }
                        }
                    }
                }
            }
        } finally {
            if (master == null) {
                LocalTestbed.stop(state);
            }
        }
        String table = markdown(totals);
        Files.writeString(out.resolve("summary.md"), table);
        System.out.printf("%n%s%nLoad average (/proc/loadavg) at the end: %s%nWritten: %s%n", table, StepBenchmark.loadAverage(),
                out.resolve("summary.md"));
        return 0;
    }

    /** Rounds 1.. of a run: their seconds and bytes, and the minibatches (activation uploads) in traffic.csv. */
    static Totals totals(List<RoundRecord> done, Path trafficCsv, int clients) throws java.io.IOException {
        double seconds = 0;
        long wire = 0;
        long payload = 0;
        for (RoundRecord r : done.subList(1, done.size())) {
            seconds += r.roundSeconds();
            wire += r.wireBytesUp() + r.wireBytesDown();
            payload += r.payloadBytesUp() + r.payloadBytesDown();
        }
        long batches = 0;
        List<String> lines = Files.readAllLines(trafficCsv);
        for (String line : lines.subList(1, lines.size())) {
            String[] f = line.split(",");
            if (Integer.parseInt(f[2]) >= 1 && f[4].equals("up") && f[5].equals("activations")) {
                batches += Long.parseLong(f[8]);
            }
        }
        return new Totals(done.size() - 1, seconds, batches, clients, wire, payload);
    }

    static String markdown(Map<Variant, Totals> totals) {
        StringBuilder b = new StringBuilder("|");
        totals.keySet().forEach(v -> b.append(" | ").append(v.title));
        totals.keySet().stream().skip(1).forEach(v -> b.append(" | ").append(v.title).append(" / plain"));
        b.append(" |\n| ---").append(" | ---:".repeat(2 * totals.size() - 1)).append(" |\n");
        row(b, totals, "rounds counted", Totals::rounds, "%.0f");
        row(b, totals, "seconds per round", Totals::secondsPerRound, "%.2f");
        row(b, totals, "ms per minibatch exchange", Totals::millisPerBatch, "%.1f");
        row(b, totals, "wire bytes per round", t -> t.wireBytes() / (double) t.rounds(), "%.0f");
        row(b, totals, "payload bytes per round", t -> t.payloadBytes() / (double) t.rounds(), "%.0f");
        return b.toString();
    }

    private static void row(StringBuilder b, Map<Variant, Totals> totals, String what,
                            java.util.function.ToDoubleFunction<Totals> value, String format) {
        b.append("| ").append(what);
        totals.values().forEach(t -> b.append(" | ").append(String.format(Locale.ROOT, format, value.applyAsDouble(t))));
        double plain = value.applyAsDouble(totals.values().iterator().next());
        totals.values().stream().skip(1).forEach(t -> b.append(" | ")
                .append(String.format(Locale.ROOT, "%.4f", value.applyAsDouble(t) / plain)));
        b.append(" |\n");
    }
}
