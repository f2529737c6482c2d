package org.fslspark.transport;

/** Seen from a client site: up is towards the server site. */
public enum Direction {
    UP, DOWN;

    public String column() {
        return name().toLowerCase();
    }
}
