package org.fslspark.testbed;

/** A topology file is wrong; the message names the file and the key. */
public class TopologyException extends RuntimeException {
    public TopologyException(String message) {
        super(message);
    }

    public TopologyException(String message, Throwable cause) {
        super(message, cause);
    }
}
