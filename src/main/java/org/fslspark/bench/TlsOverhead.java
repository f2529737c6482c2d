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
import java.util.List;
import java.util.Locale;
import java.util.concurrent.Callable;

/**
 * What mutual TLS costs SplitFed-V2 on the local multi-process test-bed: the same experiment in plain
 * TCP and over TLS, alternately ({@code --repeats} pairs), each for {@code --rounds} rounds; round 0
 * of each run is a warm-up and not counted. Per variant: seconds per round, milliseconds per minibatch
 * exchange (round time over the minibatches one client exchanges), wire and payload bytes per round.
 * Prints figures, asserts nothing.
 */
@Command(name = "tls", mixinStandardHelpOptions = true,
        description = "Per-batch round time and wire bytes of SplitFed-V2 on the local test-bed with and without mutual TLS, "
                + "side by side (keys provisioned under OUT/keys).")
public final class TlsOverhead implements Callable<Integer> {
    @Option(names = "--config", description = "Base experiment (default: ${DEFAULT-VALUE}).")
    File config = new File("conf/quickstart.conf");
    @Option(names = "--topology", description = "Test-bed topology (default: ${DEFAULT-VALUE}).")
    Path topology = Path.of("conf/testbeds/aiedge.conf");
    @Option(names = "--master", paramLabel = "URL", description = "A running test-bed's master (default: start the local "
            + "test-bed under OUT/testbed and stop it at the end).")
    String master;
    @Option(names = "--rounds", description = "Rounds per run, the first not counted (default: ${DEFAULT-VALUE}).")
    int rounds = 3;
    @Option(names = "--repeats", description = "Pairs of runs, plain then TLS (default: ${DEFAULT-VALUE}).")
    int repeats = 1;
    @Option(names = "--emulate-links", description = "Emulate the topology's links (off: this machine's loopback, so the "
            + "figures show TLS's own cost).")
    boolean emulateLinks;
    @Option(names = "--set", paramLabel = "KEY=VALUE", description = "Override a key of the base experiment (repeatable).")
    List<String> overrides = new ArrayList<>();
    @Option(names = "--out", description = "Output directory (default: ${DEFAULT-VALUE}).")
    Path out = Path.of("out/bench-tls");

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
        Path state = out.resolve("testbed");
        String url = master;
        if (url == null) {
            url = LocalTestbed.start(state, topology, 8 * 3600);
        }
        List<String> keys = TestbedKeys.settings(topology, out.resolve("keys"));
        Totals plain = null;
        Totals tls = null;
        try (BenchRuns runs = new BenchRuns()) {
            for (int r = 0; r < repeats; r++) {
                for (boolean secure : new boolean[]{false, true}) {
                    String name = (secure ? "tls-" : "plain-") + r;
                    List<String> all = new ArrayList<>(overrides);
                    all.addAll(List.of("experiment=bench-tls", "algorithm=splitfed-v2", "train.rounds=" + rounds,
                            "checkpoint.interval=0", "stop.target-accuracy=0", "stop.traffic-budget-bytes=0",
                            "spark.master=\"" + url + "\"", "testbed.topology=\"" + topology + "\"",
                            "testbed.emulate-links=" + emulateLinks, "output=\"" + out.resolve(name) + "\""));
                    all.addAll(secure ? keys : List.of());
                    all.add("security.require-tls=" + secure);
                    var e = ExperimentLoader.load(config, all);
                    List<RoundRecord> done = runs.run(e, plain == null && !secure, name + " on the test-bed " + topology);
                    Totals t = totals(done, out.resolve(name).resolve("traffic.csv"), e.institutes().size());
                    if (secure) {
                        tls = tls == null ? t : tls.plus(t);
                    } else {
                        plain = plain == null ? t : plain.plus(t);
                    }
                }
            }
        } finally {
            if (master == null) {
                LocalTestbed.stop(state);
            }
        }
        String table = markdown(plain, tls);
        Files.writeString(out.resolve("summary.md"), table);
        System.out.printf("%n%s%nWritten: %s%n", table, out.resolve("summary.md"));
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

    static String markdown(Totals plain, Totals tls) {
        StringBuilder b = new StringBuilder("| | plain TCP | mutual TLS 1.3 | TLS / plain |\n| --- | ---: | ---: | ---: |\n");
        row(b, "rounds counted", plain.rounds(), tls.rounds(), "%.0f");
        row(b, "seconds per round", plain.secondsPerRound(), tls.secondsPerRound(), "%.2f");
        row(b, "ms per minibatch exchange", plain.millisPerBatch(), tls.millisPerBatch(), "%.1f");
        row(b, "wire bytes per round", plain.wireBytes() / (double) plain.rounds(), tls.wireBytes() / (double) tls.rounds(), "%.0f");
        row(b, "payload bytes per round", plain.payloadBytes() / (double) plain.rounds(), tls.payloadBytes() / (double) tls.rounds(),
                "%.0f");
        return b.toString();
    }

    private static void row(StringBuilder b, String what, double plain, double tls, String format) {
        b.append(String.format(Locale.ROOT, "| %s | " + format + " | " + format + " | %.4f |%n", what, plain, tls, tls / plain));
    }
}
