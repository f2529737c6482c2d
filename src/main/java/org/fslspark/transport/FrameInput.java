package org.fslspark.transport;

import java.io.DataInputStream;
import java.io.IOException;

/**
 * What a {@link Codec} reads one tensor's encoded values through: the frame's stream, the frame's byte
 * cap and a reusable chunk, so a claim is checked before anything is read or allocated for it.
 */
public final class FrameInput {
    static final int CHUNK_BYTES = 1 << 16;

    private final DataInputStream in;
    private final FrameReader reader;
    private final Kind kind;
    private final byte[] scalar = new byte[4];

    FrameInput(DataInputStream in, FrameReader reader, Kind kind) {
        this.in = in;
        this.reader = reader;
        this.kind = kind;
    }

    /** Claims {@code bytes} more of the frame for this tensor; refused when the frame would pass its cap. */
    public void claim(long bytes) {
        reader.claim(kind, bytes);
    }

    /** Reads the next {@code bytes} (at most {@link #CHUNK_BYTES}, claimed before) into the reader's chunk. */
    public byte[] read(int bytes) throws IOException {
        byte[] chunk = reader.chunk(bytes);
        in.readFully(chunk, 0, bytes);
        return chunk;
    }

    /** The next four bytes as a little-endian int (claimed before). */
    public int intLE() throws IOException {
        in.readFully(scalar);
        return LittleEndian.getInt(scalar, 0);
    }

    public TransportException refuse(String check) {
        return reader.refuse(kind + " " + check);
    }
}
