package org.fslspark.bench;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;

/**
 * How the step benchmarks start their PyTorch side: Debian's {@code python3-torch}, which does its
 * matrix products through whatever {@code libblas.so.3} the process loads (its build says
 * "BLAS_INFO=generic"). Debian's default is the reference BLAS (about 5 GFLOP/s for a 2048 x 384 x
 * 1536 product here); with OpenBLAS installed ({@code apt-get install libopenblas0-openmp}, or the
 * {@code -pthread} variant) the child process is pointed at it through {@code LD_LIBRARY_PATH}, and,
 * as the environment documents for benchmarks, runs with {@code OPENBLAS_CORETYPE} and
 * {@code OPENBLAS_L2_SIZE} unset (this machine sets them for the sake of older OpenBLAS builds; they
 * pin OpenBLAS 0.3.21 to its Haswell kernels, while unset it picks Cooperlake's AVX-512 ones here).
 * Neither variable is changed for anything else (tests, CI, our own side). The PyTorch scripts print
 * which library and OpenBLAS core they actually ran.
 */
final class TorchSide {
    /** Debian's OpenBLAS variants, preferred in this order: OpenMP shares torch's thread runtime (libgomp). */
    private static final List<String> OPENBLAS_DIRS = List.of("/usr/lib/x86_64-linux-gnu/openblas-openmp",
            "/usr/lib/x86_64-linux-gnu/openblas-pthread");

    private TorchSide() {
    }

    /**
     * The process for {@code command} with the environment above. {@code blas} is "auto" (an
     * installed OpenBLAS, else the system's libblas.so.3), "system" (leave the library alone), or a
     * directory holding a libblas.so.3.
     */
    static ProcessBuilder process(List<String> command, String blas) {
        ProcessBuilder pb = new ProcessBuilder(command);
        Map<String, String> env = pb.environment();
        env.remove("OPENBLAS_CORETYPE");
        env.remove("OPENBLAS_L2_SIZE");
        String dir = blasDirectory(blas);
        if (dir != null) {
            String old = env.get("LD_LIBRARY_PATH");
            env.put("LD_LIBRARY_PATH", dir + (old == null || old.isEmpty() ? "" : ":" + old));
        }
        return pb;
    }

    /** The directory put first on the child's library path, or null for the system's libblas.so.3. */
    static String blasDirectory(String blas) {
        if (blas.equals("system")) {
            return null;
        }
        if (!blas.equals("auto")) {
            return blas;
        }
        for (String dir : OPENBLAS_DIRS) {
            if (Files.isRegularFile(Path.of(dir, "libblas.so.3"))) {
                return dir;
            }
        }
        return null;
    }

    /** What {@link #process} does to the environment, for the report. */
    static String describe(String blas) {
        String dir = blasDirectory(blas);
        return "env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE" + (dir == null ? "" : " LD_LIBRARY_PATH=" + dir);
    }
}
