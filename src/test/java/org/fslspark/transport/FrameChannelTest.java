package org.fslspark.transport;

import org.junit.jupiter.api.Test;
import org.nd4j.linalg.factory.Nd4j;

import java.net.InetAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.util.concurrent.CompletableFuture;

import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

class FrameChannelTest {
    /**
     * A peer that refuses a frame says why and closes without reading the rest of it, so the sender's write fails
     * (reset or broken pipe) while the reason waits unread in its socket: the sender's error quotes it. Without that,
     * a client whose frame was refused could not tell this from a network failure (and its round would be rerun).
     */
    @Test
    void aFailedSendQuotesWhatThePeerSaidBeforeClosing() throws Exception {
        try (ServerSocket listener = new ServerSocket(0, 1, InetAddress.getLoopbackAddress())) {
            CompletableFuture<Void> peer = CompletableFuture.runAsync(() -> {
                try (Socket s = listener.accept(); FrameChannel ch = new FrameChannel(s, null)) {
                    ch.send(FrameChannel.error("refused-frame: ACTIVATIONS shape is not the expected"));
                } catch (Exception e) {
                    throw new IllegalStateException(e);
                }
            });
            try (Socket s = new Socket(listener.getInetAddress(), listener.getLocalPort());
                 FrameChannel ch = new FrameChannel(s, null)) {
                peer.get();
                // Far more than the socket buffers take: the write is still going when the peer's reset arrives.
                Message big = Message.of(Message.Type.SMASHED, 1, 0, Tensor.of(Kind.ACTIVATIONS, Nd4j.ones(4, 1 << 22)));
                TransportException e = assertThrows(TransportException.class, () -> ch.send(big));
                assertTrue(e.getMessage().startsWith("sending SMASHED to ") && e.getMessage()
                        .endsWith("; peer reported: refused-frame: ACTIVATIONS shape is not the expected"), e.getMessage());
            }
        }
    }
}
