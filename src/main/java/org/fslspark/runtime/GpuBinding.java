package org.fslspark.runtime;

import org.apache.spark.TaskContext;
import org.apache.spark.resource.ResourceInformation;
import org.nd4j.linalg.factory.Nd4j;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import scala.Option;

import java.io.Serializable;
import java.util.Arrays;
import java.util.List;

/**
 * Binds ND4J to the GPU Spark assigned the running task ({@code TaskContext.resources()}), so that
 * executors sharing a node use the GPUs they were given instead of all using device 0.
 *
 * <p>ND4J's CUDA backend keeps the current device per thread (CudaAffinityManager.unsafeSetDevice
 * calls cudaSetDevice on the calling thread), and one executor process serves every GPU address it
 * was given, so the binding is per task, on the task's thread, before it touches a tensor.
 * CUDA_VISIBLE_DEVICES cannot serve: it must be set before the native library loads, once per
 * process. A Spark address is the device's index as the discovery script or worker saw it; where
 * the executor's environment restricts CUDA_VISIBLE_DEVICES, CUDA numbers the visible devices 0..n-1,
 * so the address is looked up in that list. On a CPU build nothing is bound, but the assignment is
 * still recorded ({@link #current()}).
 */
public final class GpuBinding {
    private static final Logger LOG = LoggerFactory.getLogger(GpuBinding.class);
    private static final String RESOURCE = "gpu";
    private static final boolean CUDA = cudaBackend();
    private static final ThreadLocal<Bound> CURRENT = new ThreadLocal<>();
    private static volatile String logged;

    private GpuBinding() {
    }

    /**
     * What a task was told and what ND4J was set to.
     *
     * @param address the GPU address Spark assigned the task
     * @param device  the CUDA device ordinal it maps to in this process
     * @param applied whether ND4J was switched to it (only with the CUDA backend)
     */
    public record Bound(String address, int device, boolean applied) implements Serializable {
    }

    /** Binds the current task's thread to its GPU; null when the task has none (or outside a task). */
    public static Bound bindTask() {
        CURRENT.remove();
        TaskContext task = TaskContext.get();
        if (task == null) {
            return null;
        }
        Option<ResourceInformation> gpu = task.resources().get(RESOURCE);
        if (gpu.isEmpty() || gpu.get().addresses().length == 0) {
            return null;
        }
        // A task asks for one GPU or a share of one, so it is given one address.
        String address = gpu.get().addresses()[0];
        int device = device(address, System.getenv("CUDA_VISIBLE_DEVICES"));
        if (CUDA) {
            Nd4j.getAffinityManager().unsafeSetDevice(device);
        }
        Bound bound = new Bound(address, device, CUDA);
        CURRENT.set(bound);
        if (!address.equals(logged)) {
            logged = address;
            LOG.info("fsl-spark: task {} uses GPU address {} (CUDA device {}{})", task.taskAttemptId(), address, device,
                    CUDA ? "" : "; CPU build, not bound");
        }
        return bound;
    }

    /** The binding of the task running on this thread, or null. */
    public static Bound current() {
        return CURRENT.get();
    }

    /** The CUDA ordinal of a Spark GPU address, given the process's CUDA_VISIBLE_DEVICES (null or empty: all). */
    static int device(String address, String visible) {
        if (visible != null && !visible.isBlank()) {
            List<String> ids = Arrays.stream(visible.split(",")).map(String::trim).toList();
            int i = ids.indexOf(address.trim());
            if (i >= 0) {
                return i;
            }
        }
        try {
            return Integer.parseInt(address.trim());
        } catch (NumberFormatException e) {
            throw new IllegalStateException("GPU address '" + address + "' is neither a device index nor listed in CUDA_VISIBLE_DEVICES="
                    + visible + "; the discovery script must print device indices", e);
        }
    }

    private static boolean cudaBackend() {
        try {
            Class.forName("org.nd4j.linalg.jcublas.JCublasBackend", false, GpuBinding.class.getClassLoader());
            return true;
        } catch (ClassNotFoundException e) {
            return false;
        }
    }
}
