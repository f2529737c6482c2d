package org.fslspark.algorithm;

import org.nd4j.linalg.api.ndarray.INDArray;

/** The client's view of the server: how messages travel is the runtime's business. */
public interface ServerLink {
    /** Sends a smashed batch and waits for the server's gradient at the cut. */
    INDArray exchange(SmashedBatch batch);

    /** Sends a smashed batch; nothing comes back. */
    void upload(SmashedBatch batch);
}
