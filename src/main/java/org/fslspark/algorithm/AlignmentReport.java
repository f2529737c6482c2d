package org.fslspark.algorithm;

/**
 * One client's alignment: samples fitted, the estimate's quality on the newest uploaded batch
 * before the fit (a batch the head was not fitted on) and after it (in-sample), and the alignment
 * loss of the last fit step.
 */
public record AlignmentReport(int client, int samples, Alignment.Quality before, Alignment.Quality after,
                              double finalLoss) implements java.io.Serializable {
}
