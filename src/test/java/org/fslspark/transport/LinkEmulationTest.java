package org.fslspark.transport;

import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

import java.io.IOException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * An emulated link over a real loopback TCP channel: a message of b wire bytes arrives
 * RTT / 2 + 8 b / throughput after it was sent, in both directions, and messages on one link follow
 * one another. Tolerance: never more than 1 ms early (the emulation only ever delays); the median
 * of five transfers at most 15% + 10 ms late (the machine may be busy: a thread that sleeps 120 ms was seen to wake 13 ms
 * late on these shared cores; loopback itself takes well under a millisecond).
 */
class LinkEmulationTest {
    /** 80 ms round trip, 100 Mbit/s: a 1 MB message takes 40 ms + 80 ms. */
    static final SiteLink LINK = new SiteLink(0.080, 100e6);
    static final int REPEATS = 5;

    ServerSocket listener;
    FrameChannel client;
    FrameChannel server;

    @BeforeEach
    void connect() throws Exception {
        // Compile the codec first: the test measures the link, not the interpreter.
        for (int i = 0; i < 5; i++) {
            FrameCodec.decode(FrameCodec.encode(ofBytes(1_000_000, i)));
        }
        listener = new ServerSocket();
        listener.bind(new InetSocketAddress(InetAddress.getLoopbackAddress(), 0));
        listener.setSoTimeout(10_000);
        CompletableFuture<Socket> accepted = CompletableFuture.supplyAsync(() -> {
            try {
                return listener.accept();
            } catch (IOException e) {
                throw new IllegalStateException(e);
            }
        });
        client = new FrameChannel(new Socket(InetAddress.getLoopbackAddress(), listener.getLocalPort()), new TrafficMeter(), LINK);
        server = new FrameChannel(accepted.get(10, TimeUnit.SECONDS), null);
        server.emulate(LINK);
    }

    @AfterEach
    void close() throws IOException {
        client.close();
        server.close();
        listener.close();
    }

    static Message ofBytes(long payloadBytes, long sequence) {
        float[] values = new float[(int) (payloadBytes / 4)];
        for (int i = 0; i < values.length; i++) {
            values[i] = i % 977;
        }
        return new Message(Message.Type.SMASHED, 0, sequence, java.util.List.of(new Tensor(Kind.ACTIVATIONS,
                new long[]{values.length}, values, null)));
    }

    /**
     * The median of several measured delays is within the tolerance of {@code expectedSeconds}, and
     * none is early. The median, because a shared machine sometimes wakes a thread tens of
     * milliseconds late.
     */
    static void assertTakes(double expectedSeconds, List<Double> measured, String what) {
        List<Double> sorted = measured.stream().sorted().toList();
        double median = sorted.get(sorted.size() / 2);
        System.out.printf("%s: expected %.1f ms, measured %s ms (median %.1f)%n", what, expectedSeconds * 1e3,
                measured.stream().map(x -> String.format("%.1f", x * 1e3)).toList(), median * 1e3);
        assertTrue(sorted.get(0) >= expectedSeconds - 0.001, what + " arrived early: " + sorted.get(0) + " s < " + expectedSeconds + " s");
        assertTrue(median <= expectedSeconds * 1.15 + 0.010, what + " arrived late: median " + median + " s > " + expectedSeconds + " s");
    }

    static double since(long t0) {
        return (System.nanoTime() - t0) / 1e9;
    }

    @Test
    void aTransferTakesHalfTheRoundTripPlusSizeOverThroughputInBothDirections() {
        Message big = ofBytes(1_000_000, 7);
        long wire = FrameCodec.frameBytes(big);
        assertEquals(1_000_000 + 18 + 3 + 4, wire);
        double expected = LINK.rttSeconds() / 2 + wire * 8 / LINK.throughputBitsPerSecond();
        assertEquals(0.120002, expected, 1e-9);
        List<Double> up = new ArrayList<>();
        List<Double> down = new ArrayList<>();
        for (int i = 0; i < REPEATS; i++) {
            long t0 = System.nanoTime();
            client.send(big);
            Message received = server.receive();
            up.add(since(t0));
            assertArrayEquals(big.tensor(0).floats(), received.tensor(0).floats());

            t0 = System.nanoTime();
            server.send(big);
            assertEquals(7, client.receive().sequence());
            down.add(since(t0));
        }
        assertTakes(expected, up, "up, 1 MB");
        assertTakes(expected, down, "down, 1 MB");
    }

    @Test
    void messagesOnALinkFollowOneAnother() {
        Message quarter = ofBytes(250_000, 0);
        double transmission = LINK.transmissionSeconds(FrameCodec.frameBytes(quarter));
        List<List<Double>> arrivals = List.of(new ArrayList<>(), new ArrayList<>(), new ArrayList<>());
        for (int i = 0; i < REPEATS; i++) {
            long t0 = System.nanoTime();
            for (int k = 0; k < 3; k++) {
                client.send(quarter);
            }
            for (int k = 0; k < 3; k++) {
                server.receive();
                arrivals.get(k).add(since(t0));
            }
        }
        for (int k = 0; k < 3; k++) {
            assertTakes(LINK.rttSeconds() / 2 + (k + 1) * transmission, arrivals.get(k), "message " + (k + 1) + " of 3");
        }
    }

    @Test
    void aSmallExchangeCostsOneRoundTrip() {
        Message ping = Message.of(Message.Type.HELLO, 0, 0);
        double wireSeconds = LINK.transmissionSeconds(FrameCodec.frameBytes(ping));
        List<Double> trips = new ArrayList<>();
        for (int i = 0; i < REPEATS; i++) {
            long t0 = System.nanoTime();
            client.send(ping);
            server.send(server.receive());
            client.receive();
            trips.add(since(t0));
        }
        assertTakes(LINK.rttSeconds() + 2 * wireSeconds, trips, "round trip");
    }

    @Test
    void closingDeliversWhatIsStillOnTheLink() {
        Message m = ofBytes(100_000, 3);
        double expected = LINK.oneWaySeconds(FrameCodec.frameBytes(m));
        long t0 = System.nanoTime();
        client.send(m);
        client.close();
        assertEquals(3, server.receive().sequence());
        double took = since(t0);
        assertTrue(took >= expected - 0.001, "delivered early: " + took);
        assertThrows(TransportException.class, server::receive);
    }

    @Test
    void aPipeAloneChargesTheSameModel() {
        LinkPipe pipe = new LinkPipe(LINK);
        long t0 = System.nanoTime();
        long first = pipe.admit(500_000);
        long second = pipe.admit(500_000);
        assertEquals(LINK.rttSeconds() / 2 + LINK.transmissionSeconds(500_000), (first - t0) / 1e9, 0.002);
        assertEquals(LinkPipe.nanos(LINK.transmissionSeconds(500_000)), second - first);
        pipe.awaitDrained();
        assertTakes(LINK.rttSeconds() / 2 + 2 * LINK.transmissionSeconds(500_000), List.of(since(t0)), "pipe drained");
    }
}
