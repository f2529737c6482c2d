package org.fslspark.algorithm;

/**
 * One client's alignment: samples fitted, the estimate's quality on the held-out newest batch
 * before and after, and the alignment loss of the last fit step.
 */
public record AlignmentReport(int client, int samples, Alignment.Quality before, Alignment.Quality after,
                              double finalLoss) implements java.io.Serializable {
}
