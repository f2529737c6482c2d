package org.fslspark.transport;

/**
 * A frame the receiving end refused by its checks (size, shape, kind, type, the client it claims), as opposed to a
 * broken channel or a peer's report: the sender misbehaved, the channel itself is fine.
 */
public final class RefusedFrameException extends TransportException {
    public RefusedFrameException(String message, Throwable cause) {
        super(message, cause);
    }
}
