package org.fslspark.transport;

import java.io.FilterInputStream;
import java.io.FilterOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.Socket;
import java.util.concurrent.atomic.AtomicLong;

/**
 * A plain TCP socket that counts the bytes its streams carry. TLS is layered over it
 * ({@link Tls}), so the counts are what crosses the network: frames plus TLS records
 * (handshake, record headers, authentication tags, close_notify).
 */
public final class MeteredSocket extends Socket {
    private final AtomicLong read = new AtomicLong();
    private final AtomicLong written = new AtomicLong();
    private InputStream in;
    private OutputStream out;

    public long bytesRead() {
        return read.get();
    }

    public long bytesWritten() {
        return written.get();
    }

    @Override
    public synchronized InputStream getInputStream() throws IOException {
        if (in == null) {
            in = new FilterInputStream(super.getInputStream()) {
                @Override
                public int read() throws IOException {
                    int b = super.read();
                    if (b >= 0) {
                        read.incrementAndGet();
                    }
                    return b;
                }

                @Override
                public int read(byte[] b, int off, int len) throws IOException {
                    int n = super.read(b, off, len);
                    if (n > 0) {
                        read.addAndGet(n);
                    }
                    return n;
                }
            };
        }
        return in;
    }

    @Override
    public synchronized OutputStream getOutputStream() throws IOException {
        if (out == null) {
            out = new FilterOutputStream(super.getOutputStream()) {
                @Override
                public void write(int b) throws IOException {
                    out.write(b);
                    written.incrementAndGet();
                }

                @Override
                public void write(byte[] b, int off, int len) throws IOException {
                    // FilterOutputStream would write byte by byte.
                    out.write(b, off, len);
                    written.addAndGet(len);
                }
            };
        }
        return out;
    }
}
