package org.fslspark.runtime;

import org.fslspark.algorithm.Algorithm;
import org.fslspark.algorithm.Server;
import org.fslspark.algorithm.ServerOrder;
import org.fslspark.algorithm.SmashedBatch;
import org.fslspark.transport.FrameChannel;
import org.fslspark.transport.FrameCodec;
import org.fslspark.transport.Float32Codec;
import org.fslspark.transport.FrameLimits;
import org.fslspark.transport.Kind;
import org.fslspark.transport.Message;
import org.fslspark.transport.NonFiniteValueException;
import org.fslspark.transport.RefusedFrameException;
import org.fslspark.transport.Tensor;
import org.fslspark.transport.Tls;
import org.fslspark.transport.TransportException;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.indexing.NDArrayIndex;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.io.IOException;
import java.net.ServerSocket;
import java.net.Socket;
import java.net.SocketTimeoutException;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ArrayBlockingQueue;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * The server's side of a synchronous round: accepts one channel per client, hands out the client
 * model, answers smashed batches in the configured order, and collects the clients' final models.
 *
 * <p>With TLS a connection is refused, and the server goes on waiting for the clients, when its
 * handshake fails (no certificate, one the federation's CA did not sign) or when its certificate
 * names another site than the institute its HELLO claims; each refusal is logged and kept
 * ({@link #refusals()}), and named in the error if a client never comes.
 *
 * <p>A client whose frame the checks refuse during the round (its shape, size, kind, type or claimed client) is told so
 * ({@link #REFUSED}), its channel closed, and it drops out of the round ({@link #refused()}); the others are served
 * to the end. The server keeps the steps it took on that client's earlier minibatches. A non-finite value is a
 * divergence and a broken channel a failure of the round, as before.
 */
final class SyncServer {
    private static final int ACCEPT_TIMEOUT_MS = 300_000;
    /**
     * A connection has this long for its TLS handshake and HELLO: a few round trips and a small frame, about a second
     * over the slowest link of a federation (0.3 s round trip) with time to spare for a loaded client; a peer that says
     * nothing holds its slot no longer than this.
     */
    static final int HELLO_TIMEOUT_MS = 10_000;
    /** Handshakes in progress at once, at least: a flood of connections cannot take more threads than this. */
    static final int MAX_PENDING = 32;
    private static final int POLL_MS = 200;
    /** How often a server waiting for its clients checks whether Spark killed its task. */
    private static final int KILL_CHECK_MS = 1000;
    private static final Logger LOG = LoggerFactory.getLogger(SyncServer.class);

    private final RoundPlan plan;
    private final Algorithm algorithm;
    private final Server server;
    private final FrameChannel[] channels;
    private final FrameLimits limits;
    private final Map<String, byte[]> models = new HashMap<>();
    private final Tls tls;
    private final List<String> refusals = new CopyOnWriteArrayList<>();
    /** The clients that dropped out of the round for a refused frame, with the reason. */
    private final Map<Integer, String> refused = new java.util.concurrent.ConcurrentSkipListMap<>();
    /** What the server tells a client whose frame it refused; the client's task ends without failing the round. */
    static final String REFUSED = "refused-frame: ";
    private int acceptTimeoutMs = ACCEPT_TIMEOUT_MS;
    private volatile int helloTimeoutMs = HELLO_TIMEOUT_MS;
    private volatile int connectedClients;
    private long computeNanos;
    private long steps;

    SyncServer(RoundPlan plan, Algorithm algorithm) {
        this(plan, algorithm, null);
    }

    /** A server whose clients must connect over mutual TLS with {@code tls} (null: plain TCP). */
    SyncServer(RoundPlan plan, Algorithm algorithm, Tls tls) {
        this.plan = plan;
        this.tls = tls;
        this.algorithm = algorithm;
        this.channels = new FrameChannel[plan.clients()];
        this.server = ServerState.forRound(plan);
        this.limits = RoundLimits.serverEnd(plan);
    }

    void run(ServerSocket listener) throws IOException {
        try {
            admit(listener);
            List<Integer> participants = plan.participants();
            if (algorithm.sequentialClients()) {
                // SL: the client weights pass through the server from one client to the next.
                Tensor clientModel = Tensor.of(Kind.MODEL, ServerState.row(plan.globalClient()));
                int last = -1;
                for (int i : participants) {
                    channels[i].send(Message.of(Message.Type.MODEL, i, 0, handOver(clientModel, i)));
                    try {
                        clientModel = takeBack(serveUntilModel(i), i);
                        last = i;
                    } catch (RefusedFrameException e) {
                        drop(i, e); // the next client starts from the model the dropped one received
                    }
                }
                if (last >= 0) {
                    models.put("client/" + last, encode(clientModel));
                }
            } else {
                for (int i : participants) {
                    channels[i].send(Message.of(Message.Type.MODEL, i, 0, Tensor.of(Kind.MODEL, plan.clientModel(i))));
                }
                if (plan.serverOrder() == ServerOrder.CLIENT_BY_CLIENT) {
                    for (int i : participants) {
                        try {
                            models.put("client/" + i, encode(serveUntilModel(i)));
                        } catch (RefusedFrameException e) {
                            drop(i, e);
                        }
                    }
                } else {
                    serveInArrivalOrder();
                }
            }
            models.put("server", encode(Tensor.of(Kind.MODEL, server.shared().network().params())));
            server.copies().forEach((c, l) -> models.put("server/" + c, encode(Tensor.of(Kind.MODEL, l.network().params()))));
        } catch (RuntimeException | IOException e) {
            FrameChannel.failAll(channels, "server failed: " + e.getMessage());
            throw e;
        } finally {
            FrameChannel.closeAll(channels);
        }
    }

    /** A connection whose handshake and HELLO succeeded, or why it was refused. */
    private record Arrival(int client, FrameChannel channel, String refusal) {
    }

    /** Connections beyond the round's clients that one address may have in handshake at once (strays, a stalled peer). */
    static final int STRAY_PER_ADDRESS = 4;

    /**
     * Handshakes in progress at once from one remote address: as many as the round has clients, since all of them may
     * come from one address (local mode, a test-bed on one host, institutes behind one NAT), and a few more
     * ({@link #STRAY_PER_ADDRESS}), so that a stray connection beside them does not turn a client away; no more, so that
     * one host's stalled connections never take the slots the other hosts' clients need.
     */
    int maxPendingPerAddress() {
        return plan.participants().size() + STRAY_PER_ADDRESS;
    }

    /** Handshakes in progress at once from all addresses: room for one address's share and for every client besides. */
    int maxPending() {
        return Math.max(MAX_PENDING, 2 * maxPendingPerAddress());
    }

    /**
     * Accepts until every client has a channel. Each connection's TLS handshake and HELLO run on a thread
     * of their own, so a peer that connects and stalls holds only its own connection, never the clients
     * behind it, and for at most {@link #HELLO_TIMEOUT_MS}. At most {@link #maxPendingPerAddress} are in progress
     * from one remote address and {@link #maxPending} in all; a connection beyond either is closed and refused. So a
     * host that opens connections and stalls them fills its own share only: the other hosts' clients still find
     * a slot each. Fails naming the refusals when no client comes within the accept timeout.
     */
    private void admit(ServerSocket listener) throws IOException {
        BlockingQueue<Arrival> arrivals = new LinkedBlockingQueue<>();
        AtomicInteger pending = new AtomicInteger();
        Map<java.net.InetAddress, Integer> pendingFrom = new HashMap<>();
        int perAddress = maxPendingPerAddress();
        int total = maxPending();
        // Connections whose handshake is in progress: closed at their deadline, and all of them when admission ends.
        Set<Socket> inProgress = ConcurrentHashMap.newKeySet();
        ExecutorService handshakes = Executors.newCachedThreadPool(r -> {
            Thread t = new Thread(r, "fsl-server-admission-" + plan.round());
            t.setDaemon(true);
            return t;
        });
        ScheduledExecutorService deadlines = Executors.newSingleThreadScheduledExecutor(r -> {
            Thread t = new Thread(r, "fsl-server-admission-deadlines-" + plan.round());
            t.setDaemon(true);
            return t;
        });
        listener.setSoTimeout(POLL_MS);
        Thread acceptor = new Thread(() -> {
            while (!listener.isClosed() && !Thread.currentThread().isInterrupted()) {
                Socket raw;
                try {
                    raw = listener.accept();
                } catch (SocketTimeoutException e) {
                    continue;
                } catch (IOException e) {
                    return; // the listener was closed: the round is over
                }
                java.net.InetAddress from = raw.getInetAddress();
                String full;
                synchronized (pendingFrom) {
                    int mine = pendingFrom.getOrDefault(from, 0);
                    full = mine >= perAddress ? mine + " handshakes from " + from.getHostAddress() + " already in progress"
                            : pending.get() >= total ? total + " handshakes already in progress" : null;
                    if (full == null) {
                        pendingFrom.put(from, mine + 1);
                        pending.incrementAndGet();
                    }
                }
                if (full != null) {
                    closeQuietly(raw);
                    arrivals.add(new Arrival(-1, null, "refused the connection from " + raw.getRemoteSocketAddress() + ": " + full));
                    continue;
                }
                inProgress.add(raw);
                handshakes.execute(() -> {
                    Arrival arrival = null;
                    try {
                        arrival = handshake(raw, deadlines);
                    } finally {
                        inProgress.remove(raw); // before it arrives: admission may end with it and closes what is in progress
                        synchronized (pendingFrom) {
                            pendingFrom.merge(from, -1, (a, b) -> a + b == 0 ? null : a + b);
                            pending.decrementAndGet();
                        }
                        if (arrival != null) {
                            arrivals.add(arrival);
                        }
                    }
                });
            }
        }, "fsl-server-accept-" + plan.round());
        acceptor.setDaemon(true);
        acceptor.start();
        try {
            long deadline = System.nanoTime() + acceptTimeoutMs * 1_000_000L;
            for (int connected = 0; connected < plan.participants().size(); ) {
                long wait = Math.min(deadline - System.nanoTime(), KILL_CHECK_MS * 1_000_000L);
                Arrival a = arrivals.poll(Math.max(0, wait), TimeUnit.NANOSECONDS);
                if (a == null) {
                    // Spark kills a barrier stage's other tasks when one fails (an executor lost before its client
                    // connected) without interrupting them: the server must notice, or the rerun waits for its slot.
                    org.apache.spark.TaskContext task = org.apache.spark.TaskContext.get();
                    if (task != null) {
                        task.killTaskIfInterrupted();
                    }
                    if (System.nanoTime() < deadline) {
                        continue;
                    }
                    throw new TransportException("not every client connected within " + acceptTimeoutMs / 1000.0 + " s"
                            + (refusals.isEmpty() ? "" : "; refused: " + String.join("; ", refusals))
                            + (moreRefusals > 0 ? "; and " + moreRefusals + " more" : ""));
                }
                if (a.refusal() != null) {
                    refuse(a.refusal());
                    continue;
                }
                if (channels[a.client()] != null) {
                    a.channel().send(FrameChannel.error("unexpected HELLO from client " + a.client()));
                    a.channel().close();
                    throw new TransportException("unexpected HELLO from client " + a.client());
                }
                channels[a.client()] = a.channel();
                connected++;
                connectedClients = connected;
                a.channel().limit(RoundLimits.serverEnd(plan, a.client())).encode(plan.codecs(), ServerState.feedback(plan, a.client()));
                if (plan.link(a.client()) != null) {
                    a.channel().emulate(plan.link(a.client()));
                }
                deadline = System.nanoTime() + acceptTimeoutMs * 1_000_000L;
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new TransportException("interrupted while clients connected", e);
        } finally {
            acceptor.interrupt();
            handshakes.shutdownNow();
            deadlines.shutdownNow();
            inProgress.forEach(SyncServer::closeQuietly);
            // Whatever connected after the last client (or before a failure) is closed, not left open.
            for (Arrival late; (late = arrivals.poll()) != null; ) {
                if (late.channel() != null) {
                    late.channel().close();
                }
            }
        }
    }

    /**
     * TLS (when the round uses it) and the HELLO of one connection, within {@link #HELLO_TIMEOUT_MS} in all: the
     * connection is closed at its deadline however its peer trickles bytes (a read timeout alone would restart at each).
     */
    private Arrival handshake(Socket raw, ScheduledExecutorService deadlines) {
        java.util.concurrent.atomic.AtomicBoolean late = new java.util.concurrent.atomic.AtomicBoolean();
        java.util.concurrent.ScheduledFuture<?> cut;
        try {
            cut = deadlines.schedule(() -> {
                late.set(true);
                closeQuietly(raw);
            }, helloTimeoutMs, TimeUnit.MILLISECONDS);
        } catch (java.util.concurrent.RejectedExecutionException over) {
            closeQuietly(raw); // admission is over
            return new Arrival(-1, null, "refused the connection from " + raw.getRemoteSocketAddress() + ": admission is over");
        }
        Arrival a = handshakeAndHello(raw);
        if (!cut.cancel(false) || late.get()) {
            if (a.channel() != null) {
                a.channel().close();
            }
            return new Arrival(-1, null, "refused the connection from " + raw.getRemoteSocketAddress()
                    + ": no TLS handshake and HELLO within " + helloTimeoutMs / 1000.0 + " s");
        }
        return a;
    }

    private Arrival handshakeAndHello(Socket raw) {
        Socket socket = raw;
        try {
            raw.setSoTimeout(helloTimeoutMs);
            if (tls != null) {
                try {
                    socket = tls.server(raw);
                } catch (IOException e) {
                    closeQuietly(raw);
                    return new Arrival(-1, null, "refused the connection from " + raw.getRemoteSocketAddress()
                            + ": TLS handshake failed: " + e.getMessage());
                }
            }
            // Until its HELLO names a client, a connection may send only what some client could.
            FrameChannel ch = new FrameChannel(socket, null).limit(limits);
            int client = ch.expect(Message.Type.HELLO).client();
            socket.setSoTimeout(0);
            // Whom the certificate names is checked first: an impostor must not end the round.
            String certified = Tls.peerSite(socket);
            boolean known = plan.participants().contains(client);
            if (certified != null && (!known || !certified.equals(plan.institutes().get(client)))) {
                String why = "refused the channel from " + socket.getRemoteSocketAddress() + ": its certificate names site "
                        + certified + " but its HELLO claims " + (known ? RoundLimits.institute(plan, client)
                        : "client " + client + ", not a client of this round");
                ch.send(FrameChannel.error(why));
                ch.close();
                return new Arrival(-1, null, why);
            }
            if (!known) {
                ch.send(FrameChannel.error("unexpected HELLO from client " + client));
                ch.close();
                return new Arrival(-1, null, "refused the channel from " + socket.getRemoteSocketAddress()
                        + ": its HELLO claims client " + client + ", not a client of this round");
            }
            return new Arrival(client, ch, null);
        } catch (IOException | RuntimeException e) {
            closeQuietly(socket);
            return new Arrival(-1, null, "refused the connection from " + raw.getRemoteSocketAddress() + ": " + e.getMessage());
        }
    }

    private static void closeQuietly(Socket s) {
        try {
            s.close();
        } catch (IOException ignored) {
            // already refused; nothing more to tell it
        }
    }

    /** Refusals kept (and logged) per round; a flood of connections is counted beyond them, not kept. */
    static final int REFUSALS_KEPT = 100;
    private int moreRefusals;

    private void refuse(String why) {
        if (refusals.size() < REFUSALS_KEPT) {
            LOG.warn("round {}: {}", plan.round(), why);
            refusals.add(why);
        } else if (moreRefusals++ == 0) {
            LOG.warn("round {}: more than {} connections refused; only their number is kept from now on", plan.round(), REFUSALS_KEPT);
        }
    }

    /** Client {@code client} sent a frame the checks refused: it is told why and drops out of the round. */
    private void drop(int client, RefusedFrameException e) {
        String why = e.getMessage();
        LOG.warn("round {}: {}; it drops out of the round", plan.round(), why);
        refused.put(client, why);
        try {
            channels[client].send(FrameChannel.error(REFUSED + why));
        } catch (TransportException gone) {
            // the client may have closed its end already
        }
        channels[client].close();
    }

    /** The clients that dropped out of the round for a refused frame, with the reason (after {@link #run}). */
    Map<Integer, String> refused() {
        return Map.copyOf(refused);
    }

    /** Why connections were refused so far (TLS only). */
    List<String> refusals() {
        return List.copyOf(refusals);
    }

    /** How many clients have connected so far (for tests). */
    int connectedClients() {
        return connectedClients;
    }

    /** For tests: how long to wait for the next client. */
    void acceptTimeoutMs(int ms) {
        acceptTimeoutMs = ms;
    }

    /** For tests: how long a connection has for its handshake and HELLO. */
    void helloTimeoutMs(int ms) {
        helloTimeoutMs = ms;
    }

    Map<String, byte[]> models() {
        return models;
    }

    /** Time spent in the algorithm's server steps. */
    double computeSeconds() {
        return computeNanos / 1e9;
    }

    /**
     * A model the server site passes to the driver, in float32: exactly the values it received or holds (a
     * received model is already what its codec delivered; the driver's copy adds no rounding of its own).
     */
    static byte[] encode(Tensor model) {
        return FrameCodec.encode(Message.of(Message.Type.MODEL, -1, 0, model.withValues(model.floats(), Float32Codec.INSTANCE)));
    }

    /**
     * SL's hand-over to client i of the client weights {@code clientModel} (x_c, the layers every client holds): with
     * sites cutting deeper than the shallowest cut, followed by the server's current layers down to client i's cut.
     */
    private Tensor handOver(Tensor clientModel, int client) {
        if (plan.layout().entry(client) == 0) {
            return clientModel;
        }
        return Tensor.of(Kind.MODEL, plan.layout().clientPart(clientModel.toArray(), server.shared().network().params(), client));
    }

    /**
     * What client i hands back in SL: its layers below the shallowest cut pass on to the next client (x_c); those
     * between it and client i's cut are the newest of the server's own layers, which the server takes over.
     */
    private Tensor takeBack(Tensor returned, int client) {
        if (plan.layout().entry(client) == 0) {
            return returned;
        }
        INDArray all = returned.toArray();
        long shared = plan.globalClient().length;
        server.shared().network().params().get(NDArrayIndex.interval(0, 1), NDArrayIndex.interval(0, all.length() - shared))
                .assign(all.get(NDArrayIndex.interval(0, 1), NDArrayIndex.interval(shared, all.length())));
        return Tensor.of(Kind.MODEL, all.get(NDArrayIndex.interval(0, 1), NDArrayIndex.interval(0, shared)));
    }

    /** Answers one client's batches until it sends its final model. */
    private Tensor serveUntilModel(int client) {
        while (true) {
            Message m = receive(client);
            if (m.type() == Message.Type.MODEL) {
                return m.tensor(0);
            }
            answer(m);
        }
    }

    /** The next message from a client; a refused frame or a broken channel fails naming the institute. */
    private Message receive(int client) {
        try {
            return channels[client].receive();
        } catch (TransportException e) {
            if (Divergence.nonFinite(e) != null) {
                throw Divergence.orItself(e, plan.round(), RoundLimits.institute(plan, client));
            }
            String named = RoundLimits.institute(plan, client) + ": " + e.getMessage();
            throw e instanceof RefusedFrameException ? new RefusedFrameException(named, e) : new TransportException(named, e);
        }
    }

    private void answer(Message m) {
        if (m.type() != Message.Type.SMASHED) {
            throw new RefusedFrameException(RoundLimits.institute(plan, m.client()) + " sent " + m.type() + " during training", null);
        }
        SmashedBatch batch = new SmashedBatch(m.client(), m.sequence(), m.tensor(0).toArray(), m.tensor(1).ints());
        FaultHook.beforeServerStep(plan, steps++);
        long start = System.nanoTime();
        INDArray g = algorithm.serverStep(server, batch);
        computeNanos += System.nanoTime() - start;
        if (g != null) {
            try {
                channels[m.client()].send(Message.of(Message.Type.GRADIENT, m.client(), m.sequence(), Tensor.of(Kind.GRADIENTS, g)));
            } catch (NonFiniteValueException n) {
                throw Divergence.of(plan.round(), "server site " + plan.serverSite() + " (its gradient for "
                        + RoundLimits.institute(plan, m.client()) + ")", m.sequence(), n);
            }
        }
    }

    /** One reader thread per client feeds a queue; this thread steps the model in arrival order. */
    private void serveInArrivalOrder() {
        BlockingQueue<Object> arrivals = new ArrayBlockingQueue<>(4 * channels.length + 4);
        List<Integer> participants = plan.participants();
        Thread[] readers = new Thread[participants.size()];
        for (int i = 0; i < readers.length; i++) {
            int client = participants.get(i);
            readers[i] = new Thread(() -> {
                try {
                    Message m;
                    do {
                        m = receive(client);
                        arrivals.put(m);
                    } while (m.type() != Message.Type.MODEL);
                } catch (RefusedFrameException e) {
                    arrivals.offer(new Refusal(client, e));
                } catch (RuntimeException e) {
                    if (!refused.containsKey(client)) { // else: the channel this thread read was closed on dropping it
                        arrivals.offer(e);
                    }
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                }
            }, "fsl-server-reader-" + client);
            readers[i].setDaemon(true);
            readers[i].start();
        }
        int finished = 0;
        try {
            while (finished < readers.length) {
                Object next = arrivals.take();
                if (next instanceof RuntimeException e) {
                    throw e;
                }
                Refusal refusal = next instanceof Refusal r ? r : null;
                Message m = refusal == null ? (Message) next : null;
                int client = refusal != null ? refusal.client() : m.client();
                if (refused.containsKey(client)) {
                    continue; // what it sent before it was dropped
                }
                try {
                    if (refusal != null) {
                        throw refusal.e();
                    } else if (m.type() == Message.Type.MODEL) {
                        models.put("client/" + client, encode(m.tensor(0)));
                        finished++;
                    } else {
                        answer(m);
                    }
                } catch (RefusedFrameException e) {
                    drop(client, e);
                    finished++;
                }
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new TransportException("server interrupted", e);
        } finally {
            for (Thread t : readers) {
                t.interrupt();
            }
        }
    }

    /** A client's frame that its reader refused. */
    private record Refusal(int client, RefusedFrameException e) {
    }
}
