package org.fslspark.runtime;

import org.apache.spark.BarrierTaskContext;
import org.apache.spark.SparkEnv;
import org.apache.spark.api.java.JavaSparkContext;
import org.apache.spark.broadcast.Broadcast;
import org.fslspark.testbed.Topology;
import org.fslspark.testbed.TopologyWriter;
import org.fslspark.transport.FrameChannel;
import org.fslspark.transport.FrameCodec;
import org.fslspark.transport.FrameLimits;
import org.fslspark.transport.Kind;
import org.fslspark.transport.Message;
import org.fslspark.transport.SiteLink;
import org.fslspark.transport.Tensor;
import org.fslspark.transport.Tls;
import org.fslspark.transport.TransportException;
import scala.collection.JavaConverters;
import scala.reflect.ClassTag$;
import scala.runtime.AbstractFunction1;

import java.io.IOException;
import java.io.Serializable;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.Locale;
import java.util.Map;
import java.time.OffsetDateTime;
import java.time.ZoneOffset;
import java.time.temporal.ChronoUnit;
import java.util.List;
import java.util.Objects;
import java.util.UUID;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;

/**
 * Measures each site's link to the server site from the sites' own executors ({@code fsl probe}).
 *
 * <p>One barrier stage, laid out like a per-batch round ({@link SyncRound}): task i runs at site i
 * (pinned to its executors, {@link SiteExecutors}), the last task at the server site, where it
 * listens on its executor's own address; the tasks find it through {@code allGather} and talk over
 * the transport's {@link FrameChannel}. The server serves one site after another, so the
 * measurements do not share the server's CPU or network. From each site it measures, with that
 * executor's clock:
 * <ul>
 *   <li>the round-trip time: the median of {@code repeats} exchanges of a small frame (after one
 *   unmeasured warm-up);</li>
 *   <li>the throughput each way: {@code bytes} in frames of at most 1 MiB, up (timed until the
 *   server's acknowledgement) and down (from the request until the last frame). Each takes the
 *   transfer plus one round trip, so throughput = 8 × wire bytes / (time − median RTT).</li>
 * </ul>
 * With {@code emulateLinks} both ends send through the topology's emulated links, as a training run
 * with {@code testbed.emulate-links} does, so the figures check the emulation (they should come out
 * at the configured figures plus the real overhead); without it they are the real network's.
 * Every socket wait is bounded by {@code timeoutSeconds}, and so is the whole job. With TLS keys the
 * channels are mutual TLS, as a training run's; the wire bytes of a transfer are then its frame bytes
 * (the TLS records add about 0.1% to what crosses).
 */
public final class LinkProbe {
    /** Largest frame of a bulk transfer. */
    static final int CHUNK_BYTES = 1 << 20;
    private static final long PING = 1;
    private static final long UP = 2;
    private static final long UP_ACK = 3;
    private static final long DOWN_REQUEST = 4;
    private static final long DOWN = 5;
    private static final long DONE = 6;
    private static final long GO = 7;

    private LinkProbe() {
    }

    /** What to measure and how long to wait. */
    public record Options(long bytes, int repeats, boolean emulateLinks, double timeoutSeconds,
                          double executorWaitSeconds) implements Serializable {
        public Options {
            if (bytes < 1 || repeats < 1 || !(timeoutSeconds > 0) || executorWaitSeconds < 0) {
                throw new IllegalArgumentException("the probe needs bytes >= 1, repeats >= 1 and a positive timeout");
            }
        }
    }

    /**
     * One site's measured link to the server site.
     *
     * @param rttSeconds      median round-trip time of a small frame
     * @param rttMinSeconds   the smallest of them
     * @param upMbps          throughput site → server site, Mbit/s (10^6 bit/s) of wire bytes
     * @param downMbps        throughput server site → site
     * @param upSeconds       time of the upload, from its first frame to the acknowledgement
     * @param downSeconds     time of the download, from the request to its last frame
     * @param wireBytes       wire bytes of one transfer (payload and framing)
     */
    public record Measurement(String site, String host, String serverHost, int repeats, double rttSeconds,
                              double rttMinSeconds, long wireBytes, double upSeconds, double downSeconds,
                              double upMbps, double downMbps) implements Serializable {
        /** The throughput the topology records for the link (the same both ways): the slower direction. */
        public double throughputMbps() {
            return Math.min(upMbps, downMbps);
        }

        /** Whether a transfer took less than two round trips, too short for a reliable throughput. */
        public boolean transferTooShort() {
            return Math.min(upSeconds, downSeconds) < 2 * rttSeconds;
        }

        public SiteLink link() {
            return new SiteLink(rttSeconds, throughputMbps() * 1e6);
        }
    }

    /** What the stage's tasks share. */
    private record Plan(Topology topology, List<String> sites, Options options, boolean placeBySite, Tls.KeyFiles tls)
            implements Serializable {
        TestbedPlan testbed() {
            return new TestbedPlan(topology, options.emulateLinks(), placeBySite);
        }

        SiteLink link(String site) {
            return testbed().link(site);
        }
    }

    /**
     * Probes every site of {@code topology}, in file order. On a cluster the tasks are pinned to
     * each site's executors (waiting up to {@code executorWaitSeconds} for them); in local mode the
     * one executor stands for every site.
     */
    public static List<Measurement> run(JavaSparkContext sc, Topology topology, Options o) {
        return run(sc, topology, o, null);
    }

    /** As {@link #run(JavaSparkContext, Topology, Options)}, over mutual TLS with {@code tls} (null: plain TCP). */
    public static List<Measurement> run(JavaSparkContext sc, Topology topology, Options o, Tls.KeyFiles tls) {
        List<String> sites = topology.siteIds();
        boolean placeBySite = !Sparks.isLocal(sc.master());
        SiteExecutors executors = placeBySite ? SiteExecutors.discover(sc, topology,
                SiteExecutors.sitesOf(sites, topology.serverSite()), o.executorWaitSeconds()) : SiteExecutors.NONE;
        Broadcast<Plan> shared = sc.broadcast(new Plan(topology, sites, o, placeBySite, tls));
        List<Integer> ids = new ArrayList<>();
        List<String> placement = new ArrayList<>(sites);
        placement.add(topology.serverSite());
        for (int i = 0; i < placement.size(); i++) {
            ids.add(i);
        }
        String group = "fsl-probe-" + UUID.randomUUID();
        ExecutorService driver = Executors.newSingleThreadExecutor(r -> {
            Thread t = new Thread(r, "fsl-probe-job");
            t.setDaemon(true);
            return t;
        });
        try {
            Future<Object> job = driver.submit(() -> {
                sc.setJobGroup(group, "fsl-spark: probing the links to " + topology.serverSite(), true);
                return executors.pin(sc.parallelize(ids, ids.size()), placement).rdd().barrier()
                        .mapPartitions(new Task(shared), false, ClassTag$.MODULE$.apply(Measurement.class))
                        .collect();
            });
            // Each site waits for the ones before it; every wait inside is bounded, and so is the job.
            double bound = o.executorWaitSeconds() + (sites.size() + 2) * (3 * o.timeoutSeconds());
            Object collected;
            try {
                collected = job.get((long) (bound * 1000), TimeUnit.MILLISECONDS);
            } catch (TimeoutException e) {
                sc.cancelJobGroup(group);
                throw new IllegalStateException("the link probe did not finish within " + Math.round(bound) + " s", e);
            } catch (ExecutionException e) {
                Throwable cause = e.getCause();
                throw cause instanceof RuntimeException r ? r : new IllegalStateException(cause.getMessage(), cause);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                sc.cancelJobGroup(group);
                throw new IllegalStateException("interrupted while probing the links", e);
            }
            return Arrays.stream((Measurement[]) collected).filter(Objects::nonNull).toList();
        } finally {
            driver.shutdownNow();
            shared.destroy();
        }
    }

    /** The body of every task; the partition index says which site it measures, the last one serves. */
    private static final class Task extends AbstractFunction1<scala.collection.Iterator<Integer>, scala.collection.Iterator<Measurement>>
            implements Serializable {
        private final Broadcast<Plan> plan;

        Task(Broadcast<Plan> plan) {
            this.plan = plan;
        }

        @Override
        public scala.collection.Iterator<Measurement> apply(scala.collection.Iterator<Integer> ignored) {
            BarrierTaskContext ctx = BarrierTaskContext.get();
            Plan p = plan.value();
            int id = ctx.partitionId();
            List<Measurement> out = new ArrayList<>();
            try {
                if (id == p.sites().size()) {
                    serve(ctx, p);
                } else {
                    out.add(measure(ctx, p, id));
                }
            } catch (IOException e) {
                throw new IllegalStateException("link probe task " + id + ": " + e.getMessage(), e);
            }
            return JavaConverters.asScalaIterator(out.iterator());
        }
    }

    private static String host() {
        return SparkEnv.get().blockManager().blockManagerId().host();
    }

    private static int timeoutMillis(Plan p) {
        return (int) Math.max(1, Math.min(Integer.MAX_VALUE, p.options().timeoutSeconds() * 1000));
    }

    /** A bulk transfer: frames of at most {@link #CHUNK_BYTES} payload, {@code bytes} in all. */
    static List<Message> frames(int site, long sequence, long bytes) {
        List<Message> frames = new ArrayList<>();
        for (long left = bytes; left > 0; left -= CHUNK_BYTES) {
            int payload = (int) Math.min(left, CHUNK_BYTES);
            int elements = Math.max(1, (payload + 3) / 4);
            frames.add(Message.of(Message.Type.PROBE, site, sequence, new Tensor(Kind.CONTROL, new long[]{elements},
                    new float[elements], null)));
        }
        return frames;
    }

    /**
     * What either end of the probe accepts from the other: control vectors up to a bulk chunk
     * (floats) or an error text (ints), nothing else.
     */
    static FrameLimits limits() {
        return FrameLimits.of(Map.of(Kind.CONTROL,
                List.of(FrameLimits.Shape.upTo(Math.max(CHUNK_BYTES / 4, FrameLimits.MAX_ERROR_CHARS)))));
    }

    static long wireBytes(List<Message> frames) {
        return frames.stream().mapToLong(FrameCodec::frameBytes).sum();
    }

    private static Message small(int site, long sequence) {
        return Message.of(Message.Type.PROBE, site, sequence);
    }

    private static Measurement measure(BarrierTaskContext ctx, Plan p, int id) throws IOException {
        String site = p.sites().get(id);
        Placement.requireSite(site, p.testbed());
        String[] addresses = Barrier.allGather(ctx, "");
        String[] server = addresses[p.sites().size()].split(":");
        Socket raw = new Socket();
        // Only the site's own address: the connection leaves from the executor's host.
        raw.bind(new InetSocketAddress(InetAddress.getByName(host()), 0));
        raw.connect(new InetSocketAddress(server[0], Integer.parseInt(server[1])), timeoutMillis(p));
        raw.setSoTimeout(timeoutMillis(p));
        Socket socket;
        try {
            socket = p.tls() == null ? raw : p.tls().forSite(site).client(raw, p.topology().serverSite());
        } catch (IOException | TransportException e) {
            raw.close();
            throw new TransportException("link probe at site " + site + ": TLS to " + p.topology().serverSite() + " failed: "
                    + e.getMessage(), e);
        }
        try (FrameChannel ch = new FrameChannel(socket, null, p.link(site))) {
            ch.limit(limits());
            ch.send(Message.of(Message.Type.HELLO, id, 0));
            // The server serves the sites one after another: wait for the ones before this one.
            socket.setSoTimeout((int) Math.min(Integer.MAX_VALUE, (long) timeoutMillis(p) * (id + 1)));
            expect(ch, GO);
            socket.setSoTimeout(timeoutMillis(p));
            ch.send(small(id, PING)); // warm-up: connection, code paths
            expect(ch, PING);
            double[] rtt = new double[p.options().repeats()];
            for (int r = 0; r < rtt.length; r++) {
                long start = System.nanoTime();
                ch.send(small(id, PING));
                expect(ch, PING);
                rtt[r] = (System.nanoTime() - start) / 1e9;
            }
            Arrays.sort(rtt);
            double median = rtt.length % 2 == 1 ? rtt[rtt.length / 2] : (rtt[rtt.length / 2 - 1] + rtt[rtt.length / 2]) / 2;
            List<Message> up = frames(id, UP, p.options().bytes());
            long wire = wireBytes(up);
            long start = System.nanoTime();
            for (Message m : up) {
                ch.send(m);
            }
            expect(ch, UP_ACK);
            double upSeconds = (System.nanoTime() - start) / 1e9;
            start = System.nanoTime();
            ch.send(small(id, DOWN_REQUEST));
            int frames = up.size();
            for (int i = 0; i < frames; i++) {
                expect(ch, DOWN);
            }
            double downSeconds = (System.nanoTime() - start) / 1e9;
            ch.send(small(id, DONE));
            return new Measurement(site, host(), server[0], rtt.length, median, rtt[0], wire, upSeconds, downSeconds,
                    mbps(wire, upSeconds, median), mbps(wire, downSeconds, median));
        } catch (TransportException e) {
            throw new TransportException("link probe at site " + site + ": " + e.getMessage(), e);
        }
    }

    /** 8 × bytes over the transfer's time without its one round trip, Mbit/s. */
    static double mbps(long wireBytes, double seconds, double rttSeconds) {
        double transfer = seconds - rttSeconds;
        // A transfer shorter than the round trip's jitter has no reliable figure; never report more than
        // the bytes over half the elapsed time.
        return 8.0 * wireBytes / Math.max(transfer, seconds / 2) / 1e6;
    }

    private static Message expect(FrameChannel ch, long sequence) {
        Message m = ch.expect(Message.Type.PROBE);
        if (m.sequence() != sequence) {
            throw new TransportException("link probe: expected step " + sequence + " but received " + m.sequence());
        }
        return m;
    }

    /** Accepts every site's channel, then serves them one after another. */
    private static void serve(BarrierTaskContext ctx, Plan p) throws IOException {
        Placement.requireSite(p.topology().serverSite(), p.testbed());
        int n = p.sites().size();
        FrameChannel[] channels = new FrameChannel[n];
        try (ServerSocket listener = new ServerSocket()) {
            // The server site's own address only, as a per-batch round's server does.
            listener.bind(new InetSocketAddress(InetAddress.getByName(host()), 0));
            listener.setSoTimeout(timeoutMillis(p));
            Barrier.allGather(ctx, host() + ":" + listener.getLocalPort());
            Tls tls = p.tls() == null ? null : p.tls().forSite(p.topology().serverSite());
            for (int i = 0; i < n; i++) {
                Socket raw = listener.accept();
                raw.setSoTimeout(timeoutMillis(p));
                Socket s;
                try {
                    s = tls == null ? raw : tls.server(raw);
                } catch (IOException e) {
                    raw.close();
                    throw new TransportException("link probe: refused the connection from " + raw.getRemoteSocketAddress()
                            + ": TLS handshake failed: " + e.getMessage(), e);
                }
                FrameChannel ch = new FrameChannel(s, null).limit(limits());
                int site = ch.expect(Message.Type.HELLO).client();
                if (site < 0 || site >= n || channels[site] != null) {
                    ch.send(FrameChannel.error("unexpected HELLO from probe task " + site));
                    ch.close();
                    throw new TransportException("unexpected HELLO from probe task " + site);
                }
                String certified = Tls.peerSite(s);
                if (certified != null && !certified.equals(p.sites().get(site))) {
                    String why = "link probe: refused the channel from " + s.getRemoteSocketAddress() + ": its certificate names site "
                            + certified + " but its HELLO claims site " + p.sites().get(site);
                    ch.send(FrameChannel.error(why));
                    ch.close();
                    throw new TransportException(why);
                }
                channels[site] = ch;
                ch.limit(limits().forClient(site));
                SiteLink link = p.link(p.sites().get(site));
                if (link != null) {
                    ch.emulate(link);
                }
            }
            for (int i = 0; i < n; i++) {
                try {
                    serveOne(channels[i], i, p.options().bytes());
                } catch (TransportException e) {
                    throw new TransportException("link probe, site " + p.sites().get(i) + ": " + e.getMessage(), e);
                }
            }
        } catch (RuntimeException | IOException e) {
            FrameChannel.failAll(channels, "link probe server failed: " + e.getMessage());
            throw e;
        } finally {
            FrameChannel.closeAll(channels);
        }
    }

    private static void serveOne(FrameChannel ch, int site, long bytes) {
        ch.send(small(site, GO));
        List<Message> down = frames(site, DOWN, bytes);
        int received = 0;
        while (true) {
            Message m = ch.expect(Message.Type.PROBE);
            if (m.sequence() == PING) {
                ch.send(small(site, PING));
            } else if (m.sequence() == UP) {
                if (++received == down.size()) {
                    ch.send(small(site, UP_ACK));
                }
            } else if (m.sequence() == DOWN_REQUEST) {
                for (Message f : down) {
                    ch.send(f);
                }
            } else if (m.sequence() == DONE) {
                return;
            } else {
                throw new TransportException("link probe: unexpected step " + m.sequence() + " from site task " + site);
            }
        }
    }

    /**
     * The topology file's {@code text} with the measured links and a comment saying when and how
     * (the other lines unchanged, {@link TopologyWriter}).
     */
    public static String topologyText(String text, Topology t, List<Measurement> measured, Options o, String master) {
        Map<String, SiteLink> links = new LinkedHashMap<>(t.links());
        Map<String, String> notes = new LinkedHashMap<>();
        for (Measurement m : measured) {
            links.put(m.site(), m.link());
            notes.put(m.site(), String.format(Locale.ROOT, "%s -> %s; min rtt %.3f ms; up %.1f, down %.1f Mbit/s",
                    m.host(), m.serverHost(), m.rttMinSeconds() * 1e3, m.upMbps(), m.downMbps()));
        }
        List<String> header = new ArrayList<>();
        header.add(TopologyWriter.MEASURED + " on " + OffsetDateTime.now(ZoneOffset.UTC).truncatedTo(ChronoUnit.SECONDS)
                + " (cluster " + master + "), from a task on each site's executors to one on " + t.serverSite() + "'s,");
        header.add("over the transport's TCP frame channel" + (o.emulateLinks()
                ? " THROUGH THE EMULATED LINKS of the file probed (a check of the emulation, not a real network)"
                : " (no link emulation: the real network)") + ". rtt: median of " + o.repeats() + " round trips of a small frame;");
        header.add("throughput-mbps: the slower direction of a " + o.bytes() + "-byte transfer each way, 8 x wire bytes / "
                + "(time - rtt). Sites not measured keep their figures.");
        return TopologyWriter.withLinks(text, links, String.join("\n", header), notes);
    }
}
