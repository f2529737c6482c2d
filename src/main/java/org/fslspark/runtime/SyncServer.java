package org.fslspark.runtime;

import org.fslspark.algorithm.Algorithm;
import org.fslspark.algorithm.Server;
import org.fslspark.algorithm.ServerOrder;
import org.fslspark.algorithm.SmashedBatch;
import org.fslspark.transport.FrameChannel;
import org.fslspark.transport.FrameCodec;
import org.fslspark.transport.FrameLimits;
import org.fslspark.transport.Kind;
import org.fslspark.transport.Message;
import org.fslspark.transport.RefusedFrameException;
import org.fslspark.transport.Tensor;
import org.fslspark.transport.Tls;
import org.fslspark.transport.TransportException;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.io.IOException;
import java.net.ServerSocket;
import java.net.Socket;
import java.net.SocketTimeoutException;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ArrayBlockingQueue;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.CopyOnWriteArrayList;

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
        this.limits = RoundLimits.serverEnd(RoundLimits.shapes(plan));
    }

    void run(ServerSocket listener) throws IOException {
        listener.setSoTimeout(Math.min(acceptTimeoutMs, KILL_CHECK_MS));
        try {
            List<Integer> participants = plan.participants();
            for (int connected = 0; connected < participants.size(); ) {
                Socket socket = accept(listener);
                if (socket == null) {
                    continue;
                }
                // Until its HELLO names a client, a connection may send only what some client could.
                FrameChannel ch = new FrameChannel(socket, null).limit(limits);
                int client = ch.expect(Message.Type.HELLO).client();
                // Whom the certificate names is checked first: an impostor must not end the round.
                String certified = Tls.peerSite(socket);
                boolean participant = participants.contains(client);
                if (certified != null && (!participant || !certified.equals(plan.institutes().get(client)))) {
                    String why = "refused the channel from " + socket.getRemoteSocketAddress() + ": its certificate names site "
                            + certified + " but its HELLO claims " + (participant
                            ? RoundLimits.institute(plan, client) : "client " + client + ", not a client of this round");
                    ch.send(FrameChannel.error(why));
                    ch.close();
                    refuse(why);
                    continue;
                }
                if (!participant || channels[client] != null) {
                    ch.send(FrameChannel.error("unexpected HELLO from client " + client));
                    ch.close();
                    throw new TransportException("unexpected HELLO from client " + client);
                }
                channels[client] = ch;
                connected++;
                connectedClients = connected;
                ch.limit(limits.forClient(client));
                if (plan.link(client) != null) {
                    ch.emulate(plan.link(client));
                }
            }
            Tensor clientModel = Tensor.of(Kind.MODEL, ServerState.row(plan.globalClient()));
            if (algorithm.sequentialClients()) {
                // SL: the client weights pass through the server from one client to the next.
                int last = -1;
                for (int i : participants) {
                    channels[i].send(Message.of(Message.Type.MODEL, i, 0, clientModel));
                    try {
                        clientModel = serveUntilModel(i);
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
                    channels[i].send(Message.of(Message.Type.MODEL, i, 0, clientModel));
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

    /**
     * The next connection, TLS established when the round uses it; null when its handshake failed (refused).
     * Fails naming the refusals when no client comes within the accept timeout.
     */
    private Socket accept(ServerSocket listener) throws IOException {
        long deadline = System.nanoTime() + acceptTimeoutMs * 1_000_000L;
        Socket raw = null;
        while (raw == null) {
            try {
                raw = listener.accept();
            } catch (SocketTimeoutException e) {
                // Spark kills a barrier stage's other tasks when one fails (an executor lost before its client
                // connected) without interrupting them: the server must notice, or the rerun waits for its slot.
                org.apache.spark.TaskContext task = org.apache.spark.TaskContext.get();
                if (task != null) {
                    task.killTaskIfInterrupted();
                }
                if (System.nanoTime() > deadline) {
                    throw new TransportException("not every client connected within " + acceptTimeoutMs / 1000.0 + " s"
                            + (refusals.isEmpty() ? "" : "; refused: " + String.join("; ", refusals)), e);
                }
            }
        }
        if (tls == null) {
            return raw;
        }
        try {
            return tls.server(raw);
        } catch (IOException e) {
            raw.close();
            refuse("refused the connection from " + raw.getRemoteSocketAddress() + ": TLS handshake failed: " + e.getMessage());
            return null;
        }
    }

    private void refuse(String why) {
        LOG.warn("round {}: {}", plan.round(), why);
        refusals.add(why);
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

    Map<String, byte[]> models() {
        return models;
    }

    /** Time spent in the algorithm's server steps. */
    double computeSeconds() {
        return computeNanos / 1e9;
    }

    private static byte[] encode(Tensor model) {
        return FrameCodec.encode(Message.of(Message.Type.MODEL, -1, 0, model));
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
            channels[m.client()].send(Message.of(Message.Type.GRADIENT, m.client(), m.sequence(), Tensor.of(Kind.GRADIENTS, g)));
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
