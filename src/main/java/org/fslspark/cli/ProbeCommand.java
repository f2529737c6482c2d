package org.fslspark.cli;

import org.apache.spark.api.java.JavaSparkContext;
import org.fslspark.config.Experiment;
import org.fslspark.config.ExperimentLoader;
import org.fslspark.runtime.LinkProbe;
import org.fslspark.testbed.Topology;
import org.fslspark.testbed.TopologyLoader;
import org.fslspark.transport.SiteLink;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

import java.io.File;
import java.io.IOException;
import java.io.PrintStream;
import java.nio.file.Files;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.Callable;

@Command(name = "probe", mixinStandardHelpOptions = true,
        description = {"Measure each site's link to the server site from the sites' own executors on a running cluster "
                + "(e.g. jobs/testbed start): round-trip time (median of small frames) and throughput each way, over the "
                + "transport's TCP channel to an endpoint on the server site's executor. Prints a table and, with --out, "
                + "writes the topology file with the measured links.",
                "Without --emulate-links the figures are the real network's; with it every frame crosses the topology's "
                        + "emulated links as in training, so the probe checks the emulation."})
final class ProbeCommand implements Callable<Integer> {
    @Parameters(index = "0", paramLabel = "TOPOLOGY", description = "Topology file (HOCON), e.g. conf/testbeds/aiedge.conf.")
    File topology;

    @Option(names = "--master", required = true, paramLabel = "URL",
            description = "Spark master of the running cluster (the local test-bed's: out/testbed/master-url).")
    String master;

    @Option(names = "--out", paramLabel = "FILE", description = "Write the topology with the measured links here.")
    File out;

    @Option(names = "--bytes", paramLabel = "N", description = "Bytes of the transfer each way (default: ${DEFAULT-VALUE}).")
    long bytes = 8_000_000;

    @Option(names = "--repeats", paramLabel = "R", description = "Round trips of a small frame; the median counts (default: ${DEFAULT-VALUE}).")
    int repeats = 10;

    @Option(names = "--emulate-links", description = "Send through the topology's emulated links (as training does with "
            + "testbed.emulate-links), to check the emulation; off: measure the real network.")
    boolean emulateLinks;

    @Option(names = "--timeout", paramLabel = "SECONDS", description = "Bound on every wait of a socket (default: ${DEFAULT-VALUE}).")
    double timeoutSeconds = 60;

    @Option(names = "--executor-wait", paramLabel = "SECONDS",
            description = "How long to wait for every site to have a live executor (default: ${DEFAULT-VALUE}).")
    double executorWaitSeconds = 120;

    @Option(names = "--set", paramLabel = "KEY=VALUE", description = "Override a key of the probe's experiment (repeatable), "
            + "e.g. the security.* keys for mutual TLS as a training run on this topology uses them (docs/SECURITY.md) and the "
            + "Spark settings a secured test-bed needs: $(cat out/testbed/spark-settings).")
    List<String> overrides = new java.util.ArrayList<>();

    @Override
    public Integer call() throws IOException {
        Topology t = TopologyLoader.load(topology);
        // A session as a run on this topology would have (placement defaults, loopback driver for a loopback master).
        List<String> keys = new java.util.ArrayList<>(List.of("experiment=probe", "spark.master=\"" + master + "\"",
                "testbed.topology=\"" + topology.getPath() + "\"", "server-site=" + t.serverSite(),
                "institutes=[" + String.join(", ", t.siteIds()) + "]"));
        keys.addAll(overrides);
        Experiment e = ExperimentLoader.load((java.io.File) null, keys);
        LinkProbe.Options o = new LinkProbe.Options(bytes, repeats, emulateLinks, timeoutSeconds, executorWaitSeconds);
        System.out.printf("Probing %d sites' links to %s on %s: %d round trips, %d bytes each way%s%n", t.sites().size(),
                t.serverSite(), master, repeats, bytes, (emulateLinks ? ", through the emulated links" : "")
                + (e.security().enabled() ? ", over mutual TLS" : ""));
        try (CommandSession session = new CommandSession(e)) {
            List<LinkProbe.Measurement> measured = LinkProbe.run(JavaSparkContext.fromSparkContext(session.spark.sparkContext()), t, o,
                    e.security().tls());
            print(t, measured, System.out);
            if (out != null) {
                Files.writeString(out.toPath(), LinkProbe.topologyText(Files.readString(topology.toPath()), t, measured, o, master));
                TopologyLoader.load(out); // what was written must read back
                System.out.println("Written: " + out);
            }
        }
        return 0;
    }

    static void print(Topology t, List<LinkProbe.Measurement> measured, PrintStream p) {
        p.printf("%-10s %-24s %12s %12s %12s %12s %12s   %s%n", "site", "from -> to", "rtt ms", "min rtt ms",
                "up Mbit/s", "down Mbit/s", "configured", "");
        for (LinkProbe.Measurement m : measured) {
            SiteLink c = t.link(m.site());
            p.printf(Locale.ROOT, "%-10s %-24s %12.3f %12.3f %12.1f %12.1f %12s   %s%n", m.site(), m.host() + " -> " + m.serverHost(),
                    m.rttSeconds() * 1e3, m.rttMinSeconds() * 1e3, m.upMbps(), m.downMbps(), c,
                    m.transferTooShort() ? "(transfer shorter than two round trips: raise --bytes)" : "");
        }
    }
}
