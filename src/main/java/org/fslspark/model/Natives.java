package org.fslspark.model;

import org.bytedeco.javacpp.Loader;
import org.nd4j.linalg.factory.Nd4j;

import java.util.Map;

/** Which libnd4j build this JVM loaded: the fast path needs the oneDNN one. */
public final class Natives {
    private Natives() {
    }

    /** Path of the loaded libnd4jcpu, e.g. {@code .../linux-x86_64-onednn/libnd4jcpu.so}; "" if none is loaded. */
    public static String libnd4jPath() {
        Nd4j.getBackend(); // loads the natives if nothing has yet
        for (Map.Entry<String, String> e : Loader.getLoadedLibraries().entrySet()) {
            if (e.getValue() != null && e.getValue().contains("libnd4jcpu")) {
                return e.getValue();
            }
        }
        return "";
    }

    /**
     * Whether the GPT layers' oneDNN primitives (bytedeco's oneDNN, called directly: {@link Dnnl}) are
     * on, e.g. "oneDNN 2.5.2", or why not.
     */
    public static String dnnlStatus() {
        return Dnnl.status();
    }

    /** True when libnd4j's oneDNN build is loaded (convolutions, pooling, LRN run on oneDNN). */
    public static boolean oneDnn() {
        return libnd4jPath().contains("-onednn");
    }
}
