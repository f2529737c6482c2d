package org.fslspark.data;

/**
 * A task tried to open a partition that belongs to another institute. Deliberately not a
 * {@link DataException}: it signals a placement breach, not bad input, and must not be swallowed by
 * handlers meant for bad files.
 */
public class PlacementException extends RuntimeException {
    public PlacementException(String message) {
        super(message);
    }
}
