package org.fslspark.data;

/**
 * Bad input or an output that cannot be written: a missing, truncated or corrupt file, a count mismatch,
 * a label out of range, an invalid partitioning parameter. Messages name the file, sample or key at fault.
 */
public class DataException extends RuntimeException {
    public DataException(String message) {
        super(message);
    }

    public DataException(String message, Throwable cause) {
        super(message, cause);
    }
}
