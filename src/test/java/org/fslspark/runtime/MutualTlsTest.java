package org.fslspark.runtime;

import org.fslspark.algorithm.ServerOrder;
import org.fslspark.config.Experiment;
import org.fslspark.config.ExperimentLoader;
import org.fslspark.model.ModelZoo;
import org.fslspark.model.SplitModel;
import org.fslspark.transport.Direction;
import org.fslspark.transport.FrameChannel;
import org.fslspark.transport.Kind;
import org.fslspark.transport.Message;
import org.fslspark.transport.MeteredSocket;
import org.fslspark.transport.Provisioning;
import org.fslspark.transport.Tensor;
import org.fslspark.transport.Tls;
import org.fslspark.transport.TrafficMeter;
import org.fslspark.transport.TransportException;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;

import javax.net.ssl.KeyManager;
import javax.net.ssl.KeyManagerFactory;
import javax.net.ssl.SSLContext;
import javax.net.ssl.SSLSocket;
import javax.net.ssl.TrustManagerFactory;
import javax.net.ssl.X509ExtendedKeyManager;
import javax.net.ssl.X509KeyManager;
import java.io.ByteArrayOutputStream;
import java.io.File;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.KeyStore;
import java.security.Principal;
import java.security.PrivateKey;
import java.security.cert.X509Certificate;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.UUID;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.function.Supplier;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Mutual TLS on the per-batch channel, with real TLS sockets on the loopback: the server end
 * ({@link SyncServer}) refuses a peer without a certificate, one whose certificate another CA
 * signed, and one with a valid certificate of umich claiming to be osu, each with its reason, while
 * the legitimate clients' round completes; a client refuses a server end that is not the server site;
 * a recording relay sees no window of an activation tensor in a TLS exchange but does in a plain one;
 * the client's meter counts exactly the bytes that crossed.
 */
class MutualTlsTest {
    private static final int BATCH = 4;
    private static final int TIMEOUT_MS = 60_000;
    private static final int WINDOW = 64;

    @TempDir
    static Path dir;
    private static Experiment experiment;
    private static SplitModel model;
    private static ExecutorService pool;
    private static Tls.KeyFiles federation;
    private static Tls.KeyFiles stranger;

    @BeforeAll
    static void load() throws Exception {
        experiment = ExperimentLoader.load(new File("conf/quickstart.conf"), List.of("institutes=[osu, umich]",
                "data.location=\"" + dir.resolve("data") + "\"", "output=\"" + dir.resolve("out") + "\""));
        model = ModelZoo.split(experiment.model(), experiment.seed());
        pool = Executors.newCachedThreadPool();
        federation = provision("aiedge", dir.resolve("keys"));
        stranger = provision("elsewhere", dir.resolve("other-keys"));
    }

    @AfterAll
    static void stop() {
        pool.shutdownNow();
    }

    static Tls.KeyFiles provision(String name, Path keys) throws Exception {
        Provisioning.provision(name, List.of("osu", "umich"), "osu", keys, false);
        return new Tls.KeyFiles(keys.resolve("{site}.p12").toString(), keys.resolve(Provisioning.TRUSTSTORE).toString(),
                keys.resolve("{site}.password").toString());
    }

    private static RoundPlan plan() {
        return new RoundPlan("tls-" + UUID.randomUUID(), 0, "splitfed-v2", experiment.settings(), experiment.model(),
                experiment.init(), experiment.train().optimizer(), experiment.train().serverOptimizer(), BATCH, 1,
                experiment.seed(), experiment.institutes(), List.of("", ""), "osu", ServerOrder.CLIENT_BY_CLIENT, Map.of(),
                model.client().params().data().asFloat(), model.server().params().data().asFloat(), Map.of(), TestbedPlan.NONE,
                Map.of(), false, "", 0, 0, Map.of(), List.of(0, 1), org.fslspark.config.Experiment.Faults.NONE, federation);
    }

    private static MeteredSocket connect(int port) throws Exception {
        MeteredSocket s = new MeteredSocket();
        s.connect(new InetSocketAddress(InetAddress.getLoopbackAddress(), port), TIMEOUT_MS);
        s.setSoTimeout(TIMEOUT_MS); // nothing in this test may wait forever
        return s;
    }

    /** A client's honest work: HELLO, the model, one smashed batch and its gradient, the model back. */
    private static void work(FrameChannel ch, int client, INDArray activations) {
        ch.send(Message.of(Message.Type.HELLO, client, 0));
        assertEquals(model.client().params().length(), ch.expect(Message.Type.MODEL).tensor(0).elements());
        ch.send(Message.of(Message.Type.SMASHED, client, 0, Tensor.of(Kind.ACTIVATIONS, activations),
                Tensor.ofInts(Kind.LABELS, new int[]{0, 1, 2, 3})));
        assertArrayEquals(activations.shape(), ch.expect(Message.Type.GRADIENT).tensor(0).shape());
        ch.send(Message.of(Message.Type.MODEL, client, 0, Tensor.of(Kind.MODEL, model.client().params())));
    }

    private static INDArray activations() {
        return Nd4j.rand(DataType.FLOAT, BATCH, 64, 7, 7);
    }

    /** Runs {@code attempt} (which must fail at the client) and waits until the server has refused it. */
    private static void refusedAttempt(SyncServer server, int before, Supplier<Exception> attempt) throws Exception {
        Exception atClient = attempt.get();
        assertTrue(atClient != null, "the hostile client was not refused");
        long deadline = System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(TIMEOUT_MS);
        while (server.refusals().size() == before && System.nanoTime() < deadline) {
            Thread.sleep(10);
        }
        assertEquals(before + 1, server.refusals().size(), server.refusals().toString());
    }

    /** Connects with {@code context}, says HELLO as {@code client} and reads: the exception that ends it, null if none. */
    private static Exception hostile(int port, SSLContext context, int client) {
        try (Socket raw = connect(port)) {
            SSLSocket s = (SSLSocket) context.getSocketFactory().createSocket(raw, "127.0.0.1", port, true);
            s.setUseClientMode(true);
            s.startHandshake();
            FrameChannel ch = new FrameChannel(s, null);
            ch.send(Message.of(Message.Type.HELLO, client, 0));
            ch.receive();
            return null;
        } catch (Exception e) {
            return e;
        }
    }

    /** Trusts the federation's CA but presents no certificate. */
    private static SSLContext withoutCertificate() throws Exception {
        SSLContext c = SSLContext.getInstance("TLSv1.3");
        c.init(null, trustingFederation().getTrustManagers(), null);
        return c;
    }

    /**
     * Presents umich's certificate of another federation whatever CAs the server asks for (a JDK client
     * would otherwise send none), trusting this federation's CA, so that only the server can refuse.
     */
    private static SSLContext strangerTrustingUs() throws Exception {
        Path keys = Path.of(stranger.truststore()).getParent();
        char[] password = Files.readString(keys.resolve("umich.password")).strip().toCharArray();
        KeyStore ks = KeyStore.getInstance("PKCS12");
        try (InputStream in = Files.newInputStream(keys.resolve("umich.p12"))) {
            ks.load(in, password);
        }
        KeyManagerFactory kmf = KeyManagerFactory.getInstance("SunX509");
        kmf.init(ks, password);
        X509KeyManager km = (X509KeyManager) kmf.getKeyManagers()[0];
        X509ExtendedKeyManager always = new X509ExtendedKeyManager() {
            @Override
            public String[] getClientAliases(String type, Principal[] issuers) {
                return new String[]{Tls.KEY_ALIAS};
            }

            @Override
            public String chooseClientAlias(String[] type, Principal[] issuers, Socket socket) {
                return Tls.KEY_ALIAS;
            }

            @Override
            public String[] getServerAliases(String type, Principal[] issuers) {
                return null;
            }

            @Override
            public String chooseServerAlias(String type, Principal[] issuers, Socket socket) {
                return null;
            }

            @Override
            public X509Certificate[] getCertificateChain(String alias) {
                return km.getCertificateChain(alias);
            }

            @Override
            public PrivateKey getPrivateKey(String alias) {
                return km.getPrivateKey(alias);
            }
        };
        SSLContext c = SSLContext.getInstance("TLSv1.3");
        c.init(new KeyManager[]{always}, trustingFederation().getTrustManagers(), null);
        return c;
    }

    private static TrustManagerFactory trustingFederation() throws Exception {
        KeyStore trust = KeyStore.getInstance("PKCS12");
        try (InputStream in = Files.newInputStream(Path.of(federation.truststore()))) {
            trust.load(in, Tls.TRUSTSTORE_PASSWORD.toCharArray());
        }
        TrustManagerFactory tmf = TrustManagerFactory.getInstance(TrustManagerFactory.getDefaultAlgorithm());
        tmf.init(trust);
        return tmf;
    }

    @Test
    void hostilePeersAreRefusedWithTheirReasonAndTheLegitimateRoundCompletes() throws Exception {
        RoundPlan plan = plan();
        try (ServerSocket listener = new ServerSocket(0, 8, InetAddress.getLoopbackAddress())) {
            int port = listener.getLocalPort();
            SyncServer server = new SyncServer(plan, plan.rules(), federation.forSite("osu"));
            Future<?> serving = pool.submit(() -> {
                server.run(listener);
                return null;
            });
            refusedAttempt(server, 0, () -> hostile(port, uncheck(MutualTlsTest::withoutCertificate), 0));
            refusedAttempt(server, 1, () -> hostile(port, uncheck(MutualTlsTest::strangerTrustingUs), 1));
            // A valid certificate of umich, claiming osu's client id: before osu connects, and after.
            impostor(port);
            Future<?> osu = legitimate(plan, port, 0);
            long deadline = System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(TIMEOUT_MS);
            while (server.connectedClients() < 1 && System.nanoTime() < deadline) {
                Thread.sleep(10);
            }
            assertEquals(1, server.connectedClients());
            impostor(port);
            List<Future<?>> clients = List.of(osu, legitimate(plan, port, 1));
            for (Future<?> c : clients) {
                c.get(TIMEOUT_MS, TimeUnit.MILLISECONDS);
            }
            serving.get(TIMEOUT_MS, TimeUnit.MILLISECONDS);
            assertEquals(List.of("client/0", "client/1", "server"), server.models().keySet().stream().sorted().toList());
            List<String> refusals = server.refusals();
            assertEquals(4, refusals.size(), refusals.toString());
            assertEquals(refusals.get(2).replaceAll("/127.0.0.1:\\d+", ""), refusals.get(3).replaceAll("/127.0.0.1:\\d+", ""));
            assertTrue(refusals.get(0).contains("TLS handshake failed") && refusals.get(0).toLowerCase().contains("certificate"),
                    refusals.get(0));
            assertTrue(refusals.get(1).contains("TLS handshake failed") && refusals.get(1).contains("PKIX"), refusals.get(1));
            assertTrue(refusals.get(2).contains("its certificate names site umich but its HELLO claims institute osu (client 0)"),
                    refusals.get(2));
        } finally {
            TaskState.clear(plan.runId());
        }
    }

    @Test
    void aPeerThatStallsItsHandshakeDoesNotHoldTheClientsBehindIt() throws Exception {
        RoundPlan plan = plan();
        try (ServerSocket listener = new ServerSocket(0, 8, InetAddress.getLoopbackAddress());
             Socket stalled = new Socket(InetAddress.getLoopbackAddress(), listener.getLocalPort())) {
            SyncServer server = new SyncServer(plan, plan.rules(), federation.forSite("osu"));
            Future<?> serving = pool.submit(() -> {
                server.run(listener);
                return null;
            });
            // The stalled peer connected first and never sends a byte; the clients come after it.
            for (Future<?> c : List.of(legitimate(plan, listener.getLocalPort(), 0), legitimate(plan, listener.getLocalPort(), 1))) {
                c.get(TIMEOUT_MS, TimeUnit.MILLISECONDS);
            }
            serving.get(TIMEOUT_MS, TimeUnit.MILLISECONDS);
            // The round is over while the stalled handshake was still pending (it would be refused only after 10 s).
            assertEquals(List.of(), server.refusals());
            assertEquals(List.of("client/0", "client/1", "server"), server.models().keySet().stream().sorted().toList());
        } finally {
            TaskState.clear(plan.runId());
        }
    }

    /** A raw connection from {@code from} to the server that sends nothing. */
    private static Socket stalledFrom(InetAddress from, int port) throws Exception {
        Socket s = new Socket();
        s.bind(new InetSocketAddress(from, 0));
        s.connect(new InetSocketAddress(InetAddress.getLoopbackAddress(), port), TIMEOUT_MS);
        return s;
    }

    /** Waits (up to the test's timeout) until the server has refused {@code n} connections. */
    private static void awaitRefusals(SyncServer server, int n) throws InterruptedException {
        long deadline = System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(TIMEOUT_MS);
        while (server.refusals().size() < n && System.nanoTime() < deadline) {
            Thread.sleep(10);
        }
        assertTrue(server.refusals().size() >= n, server.refusals().toString());
    }

    /**
     * One host (127.0.0.2) opens more connections than the server's whole pool of handshakes (40 against 32) and stalls
     * them all: it gets as many handshakes in progress as the round has clients and a few strays (6), the rest of its
     * connections are refused at once naming it, and the clients from another host (127.0.0.1) connecting after the flood are served
     * at once: the round is over long before a stalled handshake's deadline. (Before: the flood took all 32 slots and
     * the clients were refused.)
     */
    @Test
    void oneHostsStalledHandshakesLeaveTheOtherHostsClientsTheirSlots() throws Exception {
        RoundPlan plan = plan();
        InetAddress flooder = InetAddress.getByName("127.0.0.2");
        int flood = SyncServer.MAX_PENDING + 8;
        List<Socket> stalled = new java.util.ArrayList<>();
        try (ServerSocket listener = new ServerSocket(0, flood + 8, InetAddress.getLoopbackAddress())) {
            SyncServer server = new SyncServer(plan, plan.rules(), federation.forSite("osu"));
            Future<?> serving = pool.submit(() -> {
                server.run(listener);
                return null;
            });
            for (int i = 0; i < flood; i++) {
                stalled.add(stalledFrom(flooder, listener.getLocalPort()));
            }
            int share = server.maxPendingPerAddress();
            assertEquals(2 + SyncServer.STRAY_PER_ADDRESS, share);
            awaitRefusals(server, flood - share);
            long start = System.nanoTime();
            for (Future<?> c : List.of(legitimate(plan, listener.getLocalPort(), 0), legitimate(plan, listener.getLocalPort(), 1))) {
                c.get(TIMEOUT_MS, TimeUnit.MILLISECONDS);
            }
            serving.get(TIMEOUT_MS, TimeUnit.MILLISECONDS);
            double seconds = (System.nanoTime() - start) / 1e9;
            assertTrue(seconds < SyncServer.HELLO_TIMEOUT_MS / 1e3, "the clients waited " + seconds + " s");
            assertEquals(List.of("client/0", "client/1", "server"), server.models().keySet().stream().sorted().toList());
            List<String> refusals = server.refusals();
            assertEquals(flood - share, refusals.size(), refusals.toString());
            assertTrue(refusals.stream().allMatch(r -> r.startsWith("refused the connection from /127.0.0.2:")
                    && r.endsWith(": " + share + " handshakes from 127.0.0.2 already in progress")), refusals.get(0));
        } finally {
            for (Socket s : stalled) {
                s.close();
            }
            TaskState.clear(plan.runId());
        }
    }

    /**
     * A peer (127.0.0.3) that trickles a byte every 50 ms never lets a read time out, yet its connection is cut at the
     * handshake's deadline (here 1 s, for the test) and refused naming it; the round completes.
     */
    @Test
    void aPeerThatTricklesItsHandshakeIsCutAtItsDeadline() throws Exception {
        RoundPlan plan = plan();
        try (ServerSocket listener = new ServerSocket(0, 8, InetAddress.getLoopbackAddress());
             Socket slow = stalledFrom(InetAddress.getByName("127.0.0.3"), listener.getLocalPort())) {
            SyncServer server = new SyncServer(plan, plan.rules(), federation.forSite("osu"));
            server.helloTimeoutMs(1_000);
            Future<?> serving = pool.submit(() -> {
                server.run(listener);
                return null;
            });
            // A TLS record header promising a long handshake message, then one byte at a time.
            Future<Double> trickle = pool.submit(() -> {
                long start = System.nanoTime();
                OutputStream out = slow.getOutputStream();
                out.write(new byte[]{0x16, 0x03, 0x01, 0x40, 0x00});
                try {
                    while (System.nanoTime() - start < TimeUnit.MILLISECONDS.toNanos(TIMEOUT_MS)) {
                        out.write(0);
                        out.flush();
                        Thread.sleep(50);
                    }
                } catch (java.io.IOException cut) {
                    return (System.nanoTime() - start) / 1e9;
                }
                return Double.NaN;
            });
            awaitRefusals(server, 1);
            assertTrue(server.refusals().get(0).startsWith("refused the connection from /127.0.0.3:")
                    && server.refusals().get(0).endsWith(": no TLS handshake and HELLO within 1.0 s"), server.refusals().get(0));
            double cutAfter = trickle.get(TIMEOUT_MS, TimeUnit.MILLISECONDS);
            assertTrue(cutAfter >= 1.0 && cutAfter < 5, "cut after " + cutAfter + " s");
            // The clients' handshakes get the usual deadline: a first TLS handshake in a loaded JVM may take over 1 s.
            server.helloTimeoutMs(SyncServer.HELLO_TIMEOUT_MS);
            for (Future<?> c : List.of(legitimate(plan, listener.getLocalPort(), 0), legitimate(plan, listener.getLocalPort(), 1))) {
                c.get(TIMEOUT_MS, TimeUnit.MILLISECONDS);
            }
            serving.get(TIMEOUT_MS, TimeUnit.MILLISECONDS);
            assertEquals(1, server.refusals().size(), server.refusals().toString());
        } finally {
            TaskState.clear(plan.runId());
        }
    }

    @Test
    void aSitesKeysAreLoadedOncePerJvmAndAgainWhenTheirFileChanges() throws Exception {
        Tls first = federation.forSite("umich");
        assertTrue(first == federation.forSite("umich"), "a second task of the site reloaded its keys");
        assertTrue(first != federation.forSite("osu"));
        File keystore = new File(federation.keystore().replace("{site}", "umich"));
        assertTrue(keystore.setLastModified(keystore.lastModified() + 2_000));
        Tls rotated = federation.forSite("umich");
        assertTrue(first != rotated, "a changed keystore was not reloaded");
        assertEquals("umich", rotated.site());
    }

    /** Connects with umich's valid certificate, claims osu's client id, and must be told why it is refused. */
    private static void impostor(int port) throws Exception {
        Exception refused = null;
        try (MeteredSocket raw = connect(port); FrameChannel ch = new FrameChannel(federation.forSite("umich").client(raw, "osu"), null)) {
            ch.send(Message.of(Message.Type.HELLO, 0, 0));
            ch.receive();
        } catch (TransportException e) {
            refused = e;
        }
        assertTrue(refused != null && refused.getMessage().contains("certificate names site umich but its HELLO claims "
                + "institute osu (client 0)"), String.valueOf(refused));
    }

    private static Future<?> legitimate(RoundPlan plan, int port, int id) {
        return pool.submit(() -> {
            String site = plan.institutes().get(id);
            try (MeteredSocket raw = connect(port); FrameChannel ch = new FrameChannel(federation.forSite(site).client(raw, "osu"),
                    raw, new TrafficMeter(), null)) {
                work(ch, id, activations());
            }
            return null;
        });
    }

    @Test
    void whenNoLegitimateClientComesTheServersErrorNamesTheRefusal() throws Exception {
        RoundPlan plan = plan();
        try (ServerSocket listener = new ServerSocket(0, 8, InetAddress.getLoopbackAddress())) {
            SyncServer server = new SyncServer(plan, plan.rules(), federation.forSite("osu"));
            server.acceptTimeoutMs(3_000);
            Future<?> serving = pool.submit(() -> {
                server.run(listener);
                return null;
            });
            try (MeteredSocket raw = connect(listener.getLocalPort());
                 FrameChannel ch = new FrameChannel(federation.forSite("umich").client(raw, "osu"), null)) {
                ch.send(Message.of(Message.Type.HELLO, 0, 0));
                assertThrows(TransportException.class, ch::receive);
            }
            ExecutionException failed = assertThrows(ExecutionException.class, () -> serving.get(TIMEOUT_MS, TimeUnit.MILLISECONDS));
            TransportException e = assertInstanceOf(TransportException.class, failed.getCause());
            assertTrue(e.getMessage().contains("not every client connected") && e.getMessage().contains(
                    "certificate names site umich but its HELLO claims institute osu (client 0)"), e.getMessage());
        } finally {
            TaskState.clear(plan.runId());
        }
    }

    @Test
    void aClientRefusesAServerEndThatIsNotTheServerSite() throws Exception {
        try (ServerSocket listener = new ServerSocket(0, 2, InetAddress.getLoopbackAddress())) {
            Future<?> impostor = pool.submit(() -> {
                try (Socket raw = listener.accept()) {
                    raw.setSoTimeout(TIMEOUT_MS);
                    SSLSocket s = federation.forSite("umich").server(raw);
                    s.getInputStream().read(); // until the client hangs up
                }
                return null;
            });
            try (MeteredSocket raw = connect(listener.getLocalPort())) {
                TransportException e = assertThrows(TransportException.class, () -> federation.forSite("osu").client(raw, "osu"));
                assertTrue(e.getMessage().contains("presented the certificate of site umich, not of the server site osu"), e.getMessage());
            }
            try {
                impostor.get(TIMEOUT_MS, TimeUnit.MILLISECONDS);
            } catch (ExecutionException ignored) {
                // the impostor's end may see the hang-up as an error
            }
        }
    }

    @Test
    void aRecordingRelaySeesActivationsInAPlainExchangeAndNotInATlsOne() throws Exception {
        INDArray known = activations();
        byte[] tensorBytes = littleEndian(known.data().asFloat());
        Relay plain = exchangeThroughRelay(false, known);
        Relay tls = exchangeThroughRelay(true, known);
        assertTrue(containsAWindow(plain.up(), tensorBytes), "the relay should see the plain activations");
        assertFalse(containsAWindow(tls.up(), tensorBytes), "a 64-byte window of the activations crossed in clear");
        // The meter counts exactly what crossed: frames in plain TCP, frames and TLS records over TLS.
        assertEquals(plain.up().length, plain.meteredUp());
        assertEquals(tls.up().length, tls.meteredUp());
        assertTrue(tls.up().length > plain.up().length, tls.up().length + " vs " + plain.up().length);
        assertEquals(plain.payloadUp(), tls.payloadUp());
    }

    private static byte[] littleEndian(float[] values) {
        ByteBuffer b = ByteBuffer.allocate(values.length * 4).order(ByteOrder.LITTLE_ENDIAN);
        b.asFloatBuffer().put(values);
        return b.array();
    }

    /** Whether any 64-byte window of {@code needle} occurs in {@code haystack}. */
    private static boolean containsAWindow(byte[] haystack, byte[] needle) {
        Set<ByteBuffer> seen = new HashSet<>();
        for (int i = 0; i + WINDOW <= haystack.length; i++) {
            seen.add(ByteBuffer.wrap(haystack, i, WINDOW).slice());
        }
        for (int i = 0; i + WINDOW <= needle.length; i++) {
            if (seen.contains(ByteBuffer.wrap(needle, i, WINDOW).slice())) {
                return true;
            }
        }
        return false;
    }

    /** What the relay saw from client to server, and what the client's meter counted up. */
    private record Relay(byte[] up, long meteredUp, long payloadUp) {
    }

    /** Client osu talks to the server through a recording relay, umich directly; one batch each. */
    private Relay exchangeThroughRelay(boolean useTls, INDArray known) throws Exception {
        RoundPlan plan = plan();
        ByteArrayOutputStream recorded = new ByteArrayOutputStream();
        try (ServerSocket listener = new ServerSocket(0, 8, InetAddress.getLoopbackAddress());
             ServerSocket relay = new ServerSocket(0, 2, InetAddress.getLoopbackAddress())) {
            SyncServer server = new SyncServer(plan, plan.rules(), useTls ? federation.forSite("osu") : null);
            Future<?> serving = pool.submit(() -> {
                server.run(listener);
                return null;
            });
            Future<?> relaying = pool.submit(() -> {
                try (Socket from = relay.accept(); Socket to = connect(listener.getLocalPort())) {
                    from.setSoTimeout(TIMEOUT_MS);
                    Future<?> down = pool.submit(() -> pump(to.getInputStream(), from.getOutputStream(), null));
                    pump(from.getInputStream(), to.getOutputStream(), recorded);
                    to.shutdownOutput();
                    down.get(TIMEOUT_MS, TimeUnit.MILLISECONDS);
                }
                return null;
            });
            TrafficMeter meter = new TrafficMeter();
            Future<?> osu = pool.submit(() -> {
                MeteredSocket raw = connect(relay.getLocalPort());
                Socket s = useTls ? federation.forSite("osu").client(raw, "osu") : raw;
                try (FrameChannel ch = new FrameChannel(s, raw, meter, null)) {
                    work(ch, 0, known);
                }
                return null;
            });
            Future<?> umich = pool.submit(() -> {
                MeteredSocket raw = connect(listener.getLocalPort());
                Socket s = useTls ? federation.forSite("umich").client(raw, "osu") : raw;
                try (FrameChannel ch = new FrameChannel(s, raw, new TrafficMeter(), null)) {
                    work(ch, 1, activations());
                }
                return null;
            });
            osu.get(TIMEOUT_MS, TimeUnit.MILLISECONDS);
            umich.get(TIMEOUT_MS, TimeUnit.MILLISECONDS);
            serving.get(TIMEOUT_MS, TimeUnit.MILLISECONDS);
            relaying.get(TIMEOUT_MS, TimeUnit.MILLISECONDS);
            long wireUp = meter.counts().stream().filter(c -> c.direction() == Direction.UP).mapToLong(TrafficMeter.Count::wireBytes).sum();
            long payloadUp = meter.counts().stream().filter(c -> c.direction() == Direction.UP)
                    .mapToLong(TrafficMeter.Count::payloadBytes).sum();
            synchronized (recorded) {
                return new Relay(recorded.toByteArray(), wireUp, payloadUp);
            }
        } finally {
            TaskState.clear(plan.runId());
        }
    }

    /** Copies until end of stream, recording what passes when {@code record} is given. */
    private static Void pump(InputStream in, OutputStream out, ByteArrayOutputStream record) throws Exception {
        byte[] buf = new byte[1 << 16];
        int n;
        try {
            while ((n = in.read(buf)) > 0) {
                if (record != null) {
                    synchronized (record) {
                        record.write(buf, 0, n);
                    }
                }
                out.write(buf, 0, n);
                out.flush();
            }
        } catch (java.net.SocketException closed) {
            // the other side closed first; what was read is recorded
        }
        return null;
    }

    private interface ThrowingSupplier<T> {
        T get() throws Exception;
    }

    private static <T> T uncheck(ThrowingSupplier<T> s) {
        try {
            return s.get();
        } catch (Exception e) {
            throw new IllegalStateException(e);
        }
    }
}
