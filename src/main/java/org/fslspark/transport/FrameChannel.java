package org.fslspark.transport;

import java.io.BufferedInputStream;
import java.io.BufferedOutputStream;
import java.io.Closeable;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.Socket;

/**
 * A framed, metered, bidirectional channel over a TCP socket. The client end meters what it sends
 * as UP and what it receives as DOWN; the server end passes no meter, so nothing is counted twice.
 */
public final class FrameChannel implements Closeable {
    private final Socket socket;
    private final InputStream in;
    private final OutputStream out;
    private final TrafficMeter meter;

    public FrameChannel(Socket socket, TrafficMeter meter) throws IOException {
        this.socket = socket;
        socket.setTcpNoDelay(true);
        this.in = new BufferedInputStream(socket.getInputStream(), 1 << 16);
        this.out = new BufferedOutputStream(socket.getOutputStream(), 1 << 16);
        this.meter = meter;
    }

    public void send(Message m) {
        try {
            FrameCodec.write(m, out);
        } catch (IOException e) {
            throw new TransportException("sending " + m.type() + " to " + socket.getRemoteSocketAddress() + " failed: " + e.getMessage(), e);
        }
        if (meter != null) {
            meter.record(Direction.UP, m);
        }
    }

    /** Blocks for the next message; fails if the peer closed the channel or reported an error. */
    public Message receive() {
        Message m;
        try {
            m = FrameCodec.read(in);
        } catch (IOException e) {
            throw new TransportException("receiving from " + socket.getRemoteSocketAddress() + " failed: " + e.getMessage(), e);
        }
        if (m == null) {
            throw new TransportException("peer " + socket.getRemoteSocketAddress() + " closed the channel");
        }
        if (meter != null) {
            meter.record(Direction.DOWN, m);
        }
        if (m.type() == Message.Type.ERROR) {
            throw new TransportException("peer reported: " + errorText(m));
        }
        return m;
    }

    public Message expect(Message.Type type) {
        Message m = receive();
        if (m.type() != type) {
            throw new TransportException("expected " + type + " but received " + m.type());
        }
        return m;
    }

    /** An ERROR message carries its text as int code points, so it needs no other encoding. */
    public static Message error(String text) {
        return Message.of(Message.Type.ERROR, -1, 0, Tensor.ofInts(Kind.CONTROL, text.codePoints().toArray()));
    }

    private static String errorText(Message m) {
        int[] cps = m.tensor(0).ints();
        return new String(cps, 0, cps.length);
    }

    @Override
    public void close() {
        try {
            socket.close();
        } catch (IOException ignored) {
            // closing is best effort; the peer sees end of stream
        }
    }
}
