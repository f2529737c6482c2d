package org.fslspark.data;

import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;

import java.io.Serializable;
import java.util.Arrays;

/**
 * An in-memory set of token sequences for a language model: each sequence holds {@code context + 1} token ids,
 * the model's {@code context} inputs and, shifted by one, their next-token targets. Every id is in
 * {@code [0, vocab)}. Each sequence keeps its id (its position in the prepared corpus) and the index of the
 * source document its first token came from.
 */
public final class TokenSequences implements Samples, Serializable {
    private static final long serialVersionUID = 1L;

    private final int context;
    private final int vocab;
    private final int[] tokens;
    private final long[] sequenceIds;
    private final long[] documents;

    /**
     * @param tokens      n * (context + 1) ids, sequence after sequence; not copied
     * @param sequenceIds n ids, or null for 0..n-1
     * @param documents   n source-document indices, or null for all 0
     * @param what        names the data in messages (a file, a corpus)
     */
    public TokenSequences(int context, int vocab, int[] tokens, long[] sequenceIds, long[] documents, String what) {
        if (context < 1) {
            throw new DataException(what + ": the context must be at least 1 token, got " + context);
        }
        if (vocab < 2) {
            throw new DataException(what + ": the vocabulary must hold at least 2 tokens, got " + vocab);
        }
        int len = context + 1;
        if (tokens.length % len != 0) {
            throw new DataException(what + ": " + tokens.length + " tokens are not whole sequences of context + 1 = "
                    + len + " tokens");
        }
        int n = tokens.length / len;
        for (int i = 0; i < tokens.length; i++) {
            if (tokens[i] < 0 || tokens[i] >= vocab) {
                throw new DataException(what + ": token id " + tokens[i] + " at sequence " + i / len + ", position "
                        + i % len + " is outside the vocabulary [0, " + vocab + ")");
            }
        }
        if (sequenceIds == null) {
            sequenceIds = new long[n];
            Arrays.setAll(sequenceIds, i -> i);
        } else if (sequenceIds.length != n) {
            throw new DataException(what + ": " + n + " sequences but " + sequenceIds.length + " sequence ids");
        }
        if (documents == null) {
            documents = new long[n];
        } else if (documents.length != n) {
            throw new DataException(what + ": " + n + " sequences but " + documents.length + " document indices");
        }
        this.context = context;
        this.vocab = vocab;
        this.tokens = tokens;
        this.sequenceIds = sequenceIds;
        this.documents = documents;
    }

    /** Number of sequences. */
    @Override
    public int size() {
        return sequenceIds.length;
    }

    /** Inputs per sequence (the model's context); a sequence holds one token more. */
    public int context() {
        return context;
    }

    public int vocab() {
        return vocab;
    }

    /** All tokens, sequence after sequence (the backing array, not a copy). */
    public int[] tokens() {
        return tokens;
    }

    public long[] sequenceIds() {
        return sequenceIds;
    }

    public long[] documents() {
        return documents;
    }

    /** The {@code context + 1} tokens of one sequence (a copy). */
    public int[] sequence(int index) {
        int len = context + 1;
        int i = checkIndex(index);
        return Arrays.copyOfRange(tokens, i * len, i * len + len);
    }

    /** The first {@code context} tokens of the sequences at {@code indices}: ids as floats, [b, context]. */
    @Override
    public INDArray features(int[] indices) {
        float[] out = new float[indices.length * context];
        for (int b = 0; b < indices.length; b++) {
            int from = checkIndex(indices[b]) * (context + 1);
            for (int j = 0; j < context; j++) {
                out[b * context + j] = tokens[from + j];
            }
        }
        return Nd4j.create(out, new long[]{indices.length, context}, 'c');
    }

    /** The next-token targets of the sequences at {@code indices}: tokens 1..context of each, b * context ids. */
    @Override
    public int[] labels(int[] indices) {
        int[] out = new int[indices.length * context];
        for (int b = 0; b < indices.length; b++) {
            System.arraycopy(tokens, checkIndex(indices[b]) * (context + 1) + 1, out, b * context, context);
        }
        return out;
    }

    /** A new set holding copies of the sequences at {@code indices}, in that order, with their ids. */
    public TokenSequences subset(int[] indices) {
        int len = context + 1;
        int[] t = new int[indices.length * len];
        long[] ids = new long[indices.length];
        long[] docs = new long[indices.length];
        for (int b = 0; b < indices.length; b++) {
            int i = checkIndex(indices[b]);
            System.arraycopy(tokens, i * len, t, b * len, len);
            ids[b] = sequenceIds[i];
            docs[b] = documents[i];
        }
        return new TokenSequences(context, vocab, t, ids, docs, "subset");
    }

    /** Number of distinct source documents the sequences start in. */
    public long documentCount() {
        return Arrays.stream(documents).distinct().count();
    }

    private int checkIndex(int i) {
        if (i < 0 || i >= sequenceIds.length) {
            throw new IndexOutOfBoundsException("sequence index " + i + " outside [0, " + sequenceIds.length + ")");
        }
        return i;
    }

    @Override
    public String toString() {
        return "TokenSequences[" + size() + " x (" + context + " + 1) tokens, vocab " + vocab + "]";
    }
}
