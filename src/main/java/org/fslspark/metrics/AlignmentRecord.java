package org.fslspark.metrics;

import java.io.Serializable;

/**
 * One row of alignment.parquet: one client's FSL-SAGE alignment at the start of a round, with the
 * estimate's quality on the client's newest uploaded batch, which the fit leaves out:
 * normalized squared error ||g_hat - g||^2 / ||g||^2 and cosine similarity, before and after.
 */
public record AlignmentRecord(String experiment, String algorithm, int round, String institute, int samples,
                              double nmseBefore, double cosineBefore, double nmseAfter, double cosineAfter,
                              double finalLoss, double seconds) implements Serializable {

    public static final String[] COLUMNS = {"experiment", "algorithm", "round", "institute", "samples", "nmse_before",
            "cosine_before", "nmse_after", "cosine_after", "final_loss", "seconds"};

    public Object[] values() {
        return new Object[]{experiment, algorithm, round, institute, samples, nmseBefore, cosineBefore, nmseAfter,
                cosineAfter, finalLoss, seconds};
    }
}
