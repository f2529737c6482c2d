package org.fslspark.runtime;

import org.apache.spark.api.java.JavaSparkContext;
import org.apache.spark.sql.SparkSession;
import org.fslspark.config.Experiment;
import org.fslspark.testbed.LocalTestbed;
import org.fslspark.testbed.Topology;
import org.fslspark.testbed.TopologyLoader;
import org.fslspark.transport.SiteLink;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

import java.io.File;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The local multi-process test-bed (jobs/testbed: a standalone master and one worker JVM per site
 * of conf/testbeds/aiedge.conf, each on its own loopback address with FSL_SITE set) runs two rounds
 * of SplitFed-V2 and of FSL-SAGE; every task's own report says it ran at its site: each client on
 * its institute's worker, the server and the alignment tasks on the server site's. A run that needs
 * a site without executors is refused. The link probe ({@code fsl probe}) measures every site's link
 * from its own worker, through the emulated links, and finds the configured figures. The test-bed
 * is stopped in every case.
 */
@Tag("e2e")
class TestbedEndToEndTest {
    static final String TOPOLOGY = "conf/testbeds/aiedge.conf";
    @TempDir
    static Path dir;
    static Path state;
    static String master;
    static SparkSession spark;
    static final String[] SETUP = {"data.train-subset=1200", "train.rounds=2", "train.batch-size=50",
            "testbed.topology=" + TOPOLOGY, "testbed.executor-wait=180s", "server-interval=2", "alignment.interval=1",
            "alignment.epochs=5", "alignment.buffer-capacity=200"};

    @BeforeAll
    static void start() throws Exception {
        assertTrue(new File("target/runtime-classpath.txt").isFile(), "target/runtime-classpath.txt is missing: run mvn package");
        state = dir.resolve("testbed");
        try {
            master = LocalTestbed.start(state, Path.of(TOPOLOGY), 1500);
            Experiment e = experiment("splitfed-v2");
            Fixtures.prepare(e);
            spark = Sparks.session(e);
            // The test-bed is up once every site's executor has registered (the runs would wait for them too).
            SiteExecutors up = SiteExecutors.discover(JavaSparkContext.fromSparkContext(spark.sparkContext()),
                    e.testbed().topology(), e.institutes(), 180);
            System.out.println("executors: " + up.executors());
        } catch (Exception | AssertionError ex) {
            stop();
            throw ex;
        }
    }

    @AfterAll
    static void stop() {
        try {
            if (spark != null) {
                spark.stop();
            }
        } finally {
            LocalTestbed.stop(state);
        }
    }

    static Experiment experiment(String algorithm, String... more) {
        List<String> all = new ArrayList<>(List.of(SETUP));
        // The test-bed authenticates and encrypts Spark's traffic: runs join with its secret.
        all.addAll(LocalTestbed.sparkSettings(state));
        all.add("algorithm=" + algorithm);
        all.add("spark.master=\"" + master + "\"");
        all.add("output=\"" + dir.resolve("out-" + algorithm) + "\"");
        all.addAll(List.of(more));
        return Fixtures.experiment(dir, all.toArray(String[]::new));
    }

    @ParameterizedTest
    @ValueSource(strings = {"splitfed-v2", "fsl-sage"})
    void everyTaskRunsOnItsOwnSitesWorker(String algorithm) {
        Experiment e = experiment(algorithm);
        Topology topology = e.testbed().topology();
        long start = System.nanoTime();
        FederatedTraining.Summary s = FederatedTraining.run(e, spark, true, r -> System.out.println(algorithm + ": " + r));
        System.out.printf("%s on the test-bed: %.1f s%n", algorithm, (System.nanoTime() - start) / 1e9);
        assertEquals(2, s.rounds().size());
        Map<String, Integer> byRole = new TreeMap<>();
        for (FederatedTraining.TaskRun run : s.tasks()) {
            TaskReport r = run.report();
            System.out.printf("round %d %-7s %-8s ran at %-8s on %s%n", run.round(), r.role(), r.institute(), r.executorSite(), r.host());
            String site = r.role().equals("client") ? r.institute() : e.serverSite();
            assertEquals(site, r.institute(), r.toString());
            assertEquals(site, r.executorSite(), "round " + run.round() + ": a " + r.role() + " task of " + r.institute()
                    + " ran at " + r.executorSite());
            assertEquals(topology.site(site).executors().hosts().get(0), r.host(), "round " + run.round() + ": a "
                    + r.role() + " task of " + r.institute() + " ran on host " + r.host());
            byRole.merge(r.role(), 1, Integer::sum);
        }
        assertEquals(2 * e.institutes().size(), byRole.get("client"));
        assertEquals(2, byRole.get("server"));
        if (algorithm.equals("fsl-sage")) {
            // Round 0's alignment finds empty buffers; round 1 aligns every client, at the server site.
            assertEquals(e.institutes().size(), s.tasks().stream()
                    .filter(t -> t.round() == 1 && t.report().role().equals("aligner")).count());
        }
    }

    /**
     * The probe runs through the emulated links (as training does), so it measures the emulation:
     * iitb's link (240 ms, 100 Mbit/s) must come out no faster than configured and at most 10% + 5 ms
     * slower in round-trip time, and within 20% in throughput each way (the rest is this machine's
     * own overhead: encoding, scheduling on 2 shared cores). Every site is measured from its own
     * worker's address to the server site's, and the file written reads back with those links.
     */
    @Test
    void theLinkProbeMeasuresTheEmulatedLinksFromEverySite() throws IOException {
        Topology topology = experiment("splitfed-v2").testbed().topology();
        LinkProbe.Options o = new LinkProbe.Options(6_000_000, 5, true, 60, 60);
        long start = System.nanoTime();
        List<LinkProbe.Measurement> measured = LinkProbe.run(JavaSparkContext.fromSparkContext(spark.sparkContext()), topology, o);
        System.out.printf("probe: %.1f s%n", (System.nanoTime() - start) / 1e9);
        measured.forEach(System.out::println);
        assertEquals(topology.siteIds(), measured.stream().map(LinkProbe.Measurement::site).toList());
        String server = topology.site(topology.serverSite()).executors().hosts().get(0);
        for (LinkProbe.Measurement m : measured) {
            assertEquals(topology.site(m.site()).executors().hosts().get(0), m.host(), m.toString());
            assertEquals(server, m.serverHost(), m.toString());
            assertEquals(5, m.repeats());
        }
        SiteLink iitb = topology.link("iitb");
        LinkProbe.Measurement m = measured.get(topology.siteIds().indexOf("iitb"));
        assertTrue(m.rttMinSeconds() >= iitb.rttSeconds(), m.toString());
        assertTrue(m.rttSeconds() <= iitb.rttSeconds() * 1.1 + 0.005, m.toString());
        for (double mbps : new double[]{m.upMbps(), m.downMbps()}) {
            assertEquals(iitb.throughputBitsPerSecond() / 1e6, mbps, 0.2 * iitb.throughputBitsPerSecond() / 1e6, m.toString());
        }
        assertFalse(m.transferTooShort(), m.toString());
        // Every measured round trip is at least the configured one (the emulation delays, never speeds up).
        for (LinkProbe.Measurement each : measured) {
            assertTrue(each.rttMinSeconds() >= topology.link(each.site()).rttSeconds(), each.toString());
        }
        Path written = dir.resolve("probed.conf");
        Files.writeString(written, LinkProbe.topologyText(Files.readString(Path.of(TOPOLOGY)), topology, measured, o, master));
        Topology probed = TopologyLoader.load(written.toFile());
        assertEquals(topology.sites(), probed.sites());
        assertEquals(m.rttSeconds(), probed.link("iitb").rttSeconds(), 1e-6);
        assertEquals(m.throughputMbps(), probed.link("iitb").throughputBitsPerSecond() / 1e6, 0.06);
        System.out.println(Files.readString(written).lines().filter(l -> l.startsWith("#") && l.contains("probe")
                || l.startsWith("links") || l.startsWith("  ") && l.contains("rtt")).reduce("", (a, b) -> a + b + "\n"));
    }

    @Test
    void aSiteWithoutExecutorsIsRefusedBeforeAnythingRuns() throws IOException {
        Path topology = dir.resolve("with-tum.conf");
        Files.writeString(topology, "include file(\"" + new File(TOPOLOGY).getAbsolutePath() + "\")\n"
                + "sites.tum { executors.hosts = [\"127.0.0.9\"] }\n"
                + "links.tum { rtt = 110 ms, throughput-mbps = 100 }\n");
        Path data = dir.resolve("data-tum");
        Experiment e = experiment("splitfed-v2", "institutes=[osu, tum]", "testbed.topology=\"" + topology + "\"",
                "testbed.executor-wait=5s", "data.location=\"" + data + "\"", "data.train-subset=200",
                "output=\"" + dir.resolve("out-tum") + "\"");
        Fixtures.prepare(e);
        SiteExecutors.NoExecutorException refused = assertThrows(SiteExecutors.NoExecutorException.class,
                () -> FederatedTraining.run(e, spark, true, r -> { }));
        System.out.println(refused.getMessage());
        assertTrue(refused.getMessage().startsWith("site 'tum' has no live executor after 5 s (executors: "), refused.getMessage());
        assertTrue(refused.getMessage().contains("127.0.0.5 (executor "), refused.getMessage());
        assertTrue(refused.getMessage().contains("site iitb)"), refused.getMessage());
        assertTrue(!Files.exists(dir.resolve("out-tum")), "a refused run wrote results");
    }
}
