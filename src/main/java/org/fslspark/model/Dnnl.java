package org.fslspark.model;

import org.bytedeco.dnnl.const_dnnl_op_desc_t;
import org.bytedeco.dnnl.dnnl_batch_normalization_desc_t;
import org.bytedeco.dnnl.dnnl_binary_desc_t;
import org.bytedeco.dnnl.dnnl_convolution_desc_t;
import org.bytedeco.dnnl.dnnl_eltwise_desc_t;
import org.bytedeco.dnnl.dnnl_engine;
import org.bytedeco.dnnl.dnnl_exec_arg_t;
import org.bytedeco.dnnl.dnnl_layer_normalization_desc_t;
import org.bytedeco.dnnl.dnnl_matmul_desc_t;
import org.bytedeco.dnnl.dnnl_memory;
import org.bytedeco.dnnl.dnnl_memory_desc_t;
import org.bytedeco.dnnl.dnnl_post_ops;
import org.bytedeco.dnnl.dnnl_primitive;
import org.bytedeco.dnnl.dnnl_primitive_attr;
import org.bytedeco.dnnl.dnnl_primitive_desc;
import org.bytedeco.dnnl.dnnl_softmax_desc_t;
import org.bytedeco.dnnl.dnnl_stream;
import org.bytedeco.javacpp.BytePointer;
import org.bytedeco.javacpp.Loader;
import org.bytedeco.javacpp.Pointer;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;

import java.lang.ref.Cleaner;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

import static org.bytedeco.dnnl.global.dnnl.*;

/**
 * oneDNN primitives called directly, on ND4J's float arrays in place: the fast path of the GPT's and the
 * ResNets' layers.
 *
 * <p>libnd4j 1.0.0-M2.1 reaches oneDNN (its own static copy, 2.3) only for some ops and never for a
 * batched (rank 3) {@code matmul}, which it runs as a scalar loop over every output element; it has
 * no GELU-tanh, its {@code layer_norm} has no epsilon, and every layer built from its elementwise ops
 * makes several passes over memory. bytedeco's dnnl preset (oneDNN 2.5, already on the class path)
 * offers the primitives themselves: matmul on any strided 2D-4D layout (so attention reads q, k, v
 * straight out of the fused projection and writes the heads straight into the merged layout, with
 * no permuting copies) with a fused bias, scale, accumulation and broadcast add; softmax and its
 * backward; layer normalisation and its backward with PyTorch's semantics; GELU-tanh and its
 * backward; convolution and batch normalisation on oneDNN's blocked layouts (nChw16c), whose kernels
 * are several times faster here than its plain-NCHW ones (docs/PERFORMANCE.md), reordered from and
 * to the layers' NCHW arrays around each call; and a ResNet block's whole evaluation fused into its
 * convolutions. Its OpenMP runtime is libnd4j's (both load {@code libgomp.so.1}; the loader maps it
 * once), so the two libraries share the same two threads.
 *
 * <p>Primitives are created once per thread and signature (op, layouts, attributes) and kept; each
 * execution points their memory objects at the arrays' current addresses. Scratchpads are the
 * caller's, as are the blocked copies of reordered arguments (growing buffers per thread and slot),
 * so a primitive holds no mutable state and the per-thread cache is only about creation cost.
 * Everything here is for {@link DataType#FLOAT} arrays on ND4J's CPU backend; {@link #usable} tells
 * the layers when to take this path, and they keep their ND4J path for DOUBLE (gradient checks),
 * other backends, and {@code -Dfsl.dnnl=false}.
 */
final class Dnnl {
    private static final Cleaner CLEANER = Cleaner.create();
    /** Primitives kept per thread before they are all destroyed (shapes keep changing). */
    private static final int MAX_PRIMITIVES = 1024;
    private static final dnnl_engine ENGINE;
    private static final String STATUS;

    static {
        dnnl_engine engine = null;
        String status;
        try {
            if (!Boolean.parseBoolean(System.getProperty("fsl.dnnl", "true"))) {
                status = "disabled by -Dfsl.dnnl=false";
            } else if (!Nd4j.getBackend().getClass().getName().contains("CpuBackend")) {
                status = "not on ND4J's CPU backend (" + Nd4j.getBackend().getClass().getSimpleName() + ")";
            } else {
                Loader.load(org.bytedeco.dnnl.global.dnnl.class);
                engine = new dnnl_engine();
                check(dnnl_engine_create(engine, dnnl_cpu, 0), "engine");
                status = "oneDNN " + dnnl_version().major() + "." + dnnl_version().minor() + "." + dnnl_version().patch();
            }
        } catch (Throwable e) { // UnsatisfiedLinkError and the like: the layers keep their ND4J path
            engine = null;
            status = "unavailable: " + e;
        }
        ENGINE = engine;
        STATUS = status;
    }

    private Dnnl() {
    }

    /** Whether the fast path is on, and if not why; for logs and benchmarks. */
    static String status() {
        return STATUS;
    }

    /** Off switch for A/B measurements and tests in one JVM (the property fsl.dnnl=false is the permanent one). */
    private static volatile boolean enabled = true;

    static void setEnabled(boolean on) {
        enabled = on;
    }

    /** Whether oneDNN loaded and all arrays are float (the only type these primitives are set up for). */
    static boolean usable(INDArray... arrays) {
        if (ENGINE == null || !enabled) {
            return false;
        }
        for (INDArray a : arrays) {
            if (a == null || a.dataType() != DataType.FLOAT) {
                return false;
            }
        }
        return true;
    }

    /** Whether oneDNN loaded and {@code type} is float. */
    static boolean usable(DataType type) {
        return ENGINE != null && enabled && type == DataType.FLOAT;
    }

    /** The address of an array's first element (views included). */
    static long address(INDArray a) {
        return a.data().address() + a.offset() * a.data().getElementSize();
    }

    /** Dimensions and strides (in elements) of a tensor as oneDNN sees it. */
    static final class Layout {
        final long[] dims;
        final long[] strides;

        Layout(long[] dims, long[] strides) {
            if (dims.length != strides.length) {
                throw new IllegalArgumentException("dims " + Arrays.toString(dims) + " vs strides " + Arrays.toString(strides));
            }
            this.dims = dims;
            this.strides = strides;
        }

        /** Row-major dense. */
        static Layout dense(long... dims) {
            long[] strides = new long[dims.length];
            long s = 1;
            for (int i = dims.length - 1; i >= 0; i--) {
                strides[i] = s;
                s *= dims[i];
            }
            return new Layout(dims, strides);
        }

        /**
         * The array's own shape and strides. A dimension of size 1 gets the array's full extent as its
         * stride: ND4J gives such dimensions stride 1 (a [1, n] row has strides [1, 1]), which oneDNN
         * refuses at execution as overlapping.
         */
        static Layout of(INDArray a) {
            long[] dims = a.shape();
            long[] strides = a.stride().clone();
            long extent = 1;
            for (int i = 0; i < dims.length; i++) {
                if (dims[i] > 1) {
                    extent = Math.max(extent, strides[i] * dims[i]);
                }
            }
            for (int i = 0; i < dims.length; i++) {
                if (dims[i] == 1) {
                    strides[i] = extent;
                }
            }
            return new Layout(dims, strides);
        }

        /** The same memory seen with the last two dimensions swapped (a transposed matrix). */
        Layout transposeLast() {
            long[] d = dims.clone();
            long[] s = strides.clone();
            int n = d.length;
            long t = d[n - 1];
            d[n - 1] = d[n - 2];
            d[n - 2] = t;
            t = s[n - 1];
            s[n - 1] = s[n - 2];
            s[n - 2] = t;
            return new Layout(d, s);
        }

        void appendTo(StringBuilder b) {
            b.append(Arrays.toString(dims)).append('/').append(Arrays.toString(strides));
        }

        dnnl_memory_desc_t desc(int type) {
            dnnl_memory_desc_t m = new dnnl_memory_desc_t();
            check(dnnl_memory_desc_init_by_strides(m, dims.length, dims, type, strides), "memory descriptor " + this);
            return m;
        }

        @Override
        public String toString() {
            return Arrays.toString(dims) + "/" + Arrays.toString(strides);
        }
    }

    /** What the per-thread cache holds and destroys. */
    private interface Native {
        void destroy();
    }

    /** A created primitive with one memory object per argument, executed on arrays' addresses. */
    static final class Primitive implements Native {
        private final dnnl_primitive primitive;
        private final dnnl_memory[] memories;
        private final Address[] addresses;
        private final dnnl_exec_arg_t args;
        private final int argCount;
        private final dnnl_memory scratchpad;
        private final long scratchpadBytes;
        private final Address scratchpadAddress = new Address();
        /** Per argument: a reorder between the caller's plain array and the layout the primitive chose, or null. */
        private final Primitive[] reorders;
        /** Per argument: whether the primitive writes it (reordered back after the run) or reads it. */
        private final boolean[] outputs;
        /** Per argument: bytes of the argument in the primitive's layout, where it differs from the caller's. */
        private final long[] reorderedBytes;

        /**
         * With {@code plain} (the caller's layout per argument, null where the argument is given as the primitive wants
         * it), every argument whose layout the primitive chose differently ({@code format_tag::any}) is reordered into
         * a per-thread buffer before the run, or out of it afterwards when {@code outputs} says the primitive writes it.
         */
        private Primitive(dnnl_primitive_desc pd, int[] argIds, Layout[] plain, boolean[] outputs) {
            this.outputs = outputs;
            reorders = plain == null ? null : new Primitive[argIds.length];
            reorderedBytes = new long[argIds.length];
            for (int i = 0; plain != null && i < argIds.length; i++) {
                if (plain[i] == null) {
                    continue;
                }
                dnnl_memory_desc_t chosen = dnnl_primitive_desc_query_md(pd, dnnl_query_exec_arg_md, argIds[i]);
                dnnl_memory_desc_t user = plain[i].desc(dnnl_f32);
                if (dnnl_memory_desc_equal(user, chosen) == 0) {
                    reorders[i] = outputs[i] ? reorder(chosen, user) : reorder(user, chosen);
                    reorderedBytes[i] = dnnl_memory_desc_get_size(chosen);
                }
            }
            dnnl_memory_desc_t scratchDesc = dnnl_primitive_desc_query_md(pd, dnnl_query_scratchpad_md, 0);
            scratchpadBytes = scratchDesc == null ? 0 : dnnl_memory_desc_get_size(scratchDesc);
            argCount = argIds.length + (scratchpadBytes > 0 ? 1 : 0);
            memories = new dnnl_memory[argIds.length];
            addresses = new Address[argIds.length];
            args = new dnnl_exec_arg_t(argCount);
            for (int i = 0; i < argIds.length; i++) {
                dnnl_memory_desc_t md = dnnl_primitive_desc_query_md(pd, dnnl_query_exec_arg_md, argIds[i]);
                memories[i] = new dnnl_memory();
                check(dnnl_memory_create(memories[i], md, ENGINE, (Pointer) null), "memory for argument " + argIds[i]);
                addresses[i] = new Address();
                args.position(i).arg(argIds[i]).memory(memories[i]);
            }
            if (scratchpadBytes > 0) {
                scratchpad = new dnnl_memory();
                check(dnnl_memory_create(scratchpad, scratchDesc, ENGINE, (Pointer) null), "scratchpad memory");
                args.position(argIds.length).arg(DNNL_ARG_SCRATCHPAD).memory(scratchpad);
            } else {
                scratchpad = null;
            }
            args.position(0);
            primitive = new dnnl_primitive();
            check(dnnl_primitive_create(primitive, pd), "primitive");
        }

        /** Runs on the arrays at these addresses, in the order of the argument ids it was made with. */
        void exec(long... addressList) {
            Context c = CONTEXT.get();
            c.matchThreads();
            long[] at = addressList;
            if (reorders != null) {
                at = addressList.clone();
                for (int i = 0; i < at.length; i++) {
                    if (reorders[i] != null) {
                        at[i] = c.buffer(i + 1, reorderedBytes[i]);
                        if (!outputs[i]) {
                            reorders[i].exec(addressList[i], at[i]);
                        }
                    }
                }
            }
            for (int i = 0; i < memories.length; i++) {
                check(dnnl_memory_set_data_handle(memories[i], addresses[i].at(at[i])), "data handle");
            }
            if (scratchpad != null) {
                check(dnnl_memory_set_data_handle(scratchpad, scratchpadAddress.at(c.buffer(0, scratchpadBytes))), "scratchpad");
            }
            check(dnnl_primitive_execute(primitive, c.stream, argCount, args), "execute");
            check(dnnl_stream_wait(c.stream), "stream wait");
            for (int i = 0; reorders != null && i < at.length; i++) {
                if (reorders[i] != null && outputs[i]) {
                    reorders[i].exec(at[i], addressList[i]);
                }
            }
        }

        /** Runs on these arrays (in argument order). */
        void exec(INDArray... arrays) {
            long[] a = new long[arrays.length];
            for (int i = 0; i < a.length; i++) {
                a[i] = address(arrays[i]);
            }
            exec(a);
        }

        @Override
        public void destroy() {
            for (int i = 0; reorders != null && i < reorders.length; i++) {
                if (reorders[i] != null) {
                    reorders[i].destroy();
                }
            }
            dnnl_primitive_destroy(primitive);
            for (dnnl_memory m : memories) {
                dnnl_memory_destroy(m);
            }
            if (scratchpad != null) {
                dnnl_memory_destroy(scratchpad);
            }
        }
    }

    /** A pointer whose address is set by hand (an ND4J array's, possibly inside a view). */
    private static final class Address extends Pointer {
        Address at(long a) {
            address = a;
            return this;
        }
    }

    /** One thread's stream, primitives and scratchpad; destroyed when the thread is gone. */
    private static final class Context {
        private final dnnl_stream stream = new dnnl_stream();
        private final Map<String, Native> primitives = new HashMap<>();
        /** Growing buffers by slot: 0 the scratchpad, 1.. a primitive's arguments in the layouts it chose. */
        private final List<BytePointer> buffers = new ArrayList<>();

        Context() {
            check(dnnl_stream_create(stream, ENGINE, dnnl_stream_default_flags), "stream");
            // The cleanup holds the native objects only, not the context.
            dnnl_stream s = stream;
            Map<String, Native> p = primitives;
            List<BytePointer> b = buffers;
            CLEANER.register(this, () -> {
                p.values().forEach(Native::destroy);
                dnnl_stream_destroy(s);
                b.forEach(BytePointer::deallocate);
            });
        }

        /** OpenMP threads this thread last asked for (-1: not yet). */
        private int ompThreads = -1;

        /**
         * Gives this thread's OpenMP parallel regions (oneDNN's) as many threads as ND4J's own ops get:
         * in local mode the runtime divides the cores among a round's concurrent tasks
         * ({@code Environment.setMaxThreads}), and oneDNN's OpenMP would otherwise take every core in
         * each of them. The setting is per calling thread in OpenMP.
         */
        void matchThreads() {
            int threads = Nd4j.getEnvironment().maxThreads();
            if (threads != ompThreads && threads > 0) {
                org.nd4j.nativeblas.NativeOpsHolder.getInstance().getDeviceNativeOps().setOmpNumThreads(threads);
                ompThreads = threads;
            }
        }

        /** The address of slot {@code slot}'s buffer, grown to at least {@code bytes} (its contents are then lost). */
        long buffer(int slot, long bytes) {
            while (buffers.size() <= slot) {
                buffers.add(null);
            }
            BytePointer b = buffers.get(slot);
            if (b == null || b.capacity() < bytes) {
                if (b != null) {
                    b.deallocate();
                }
                // Aligned for vector loads: a BytePointer's own address is only malloc's 16.
                b = new BytePointer(Math.max(bytes, 1L << 20) + 64);
                buffers.set(slot, b);
            }
            return (b.address() + 63) & -64L;
        }
    }

    private static final ThreadLocal<Context> CONTEXT = ThreadLocal.withInitial(Context::new);

    private interface Factory<T extends Native> {
        T create();
    }

    @SuppressWarnings("unchecked") // a key names one kind of object
    private static <T extends Native> T cached(String key, Factory<T> factory) {
        Map<String, Native> primitives = CONTEXT.get().primitives;
        Native p = primitives.get(key);
        if (p == null) {
            if (primitives.size() >= MAX_PRIMITIVES) {
                primitives.values().forEach(Native::destroy);
                primitives.clear();
            }
            p = factory.create();
            primitives.put(key, p);
        }
        return (T) p;
    }

    private static dnnl_primitive_attr attributes(float scale, float sum, Layout addend) {
        dnnl_primitive_attr attr = new dnnl_primitive_attr();
        check(dnnl_primitive_attr_create(attr), "attributes");
        check(dnnl_primitive_attr_set_scratchpad_mode(attr, dnnl_scratchpad_mode_user), "scratchpad mode");
        if (scale != 1f) {
            check(dnnl_primitive_attr_set_output_scales(attr, 1, 0, new float[]{scale}), "output scale");
        }
        if (sum != 0f || addend != null) {
            dnnl_post_ops ops = new dnnl_post_ops();
            check(dnnl_post_ops_create(ops), "post-ops");
            if (sum != 0f) {
                check(dnnl_post_ops_append_sum(ops, sum), "sum post-op");
            }
            if (addend != null) {
                check(dnnl_post_ops_append_binary(ops, dnnl_binary_add, addend.desc(dnnl_f32)), "binary post-op");
            }
            check(dnnl_primitive_attr_set_post_ops(attr, ops), "set post-ops");
            dnnl_post_ops_destroy(ops);
        }
        return attr;
    }

    /** A primitive descriptor; consumes (destroys) {@code attr}. */
    private static dnnl_primitive_desc primitiveDesc(Pointer opDesc, dnnl_primitive_attr attr, dnnl_primitive_desc hint, String what) {
        try {
            dnnl_primitive_desc pd = new dnnl_primitive_desc();
            check(dnnl_primitive_desc_create(pd, new const_dnnl_op_desc_t(opDesc), attr, ENGINE, hint), what);
            return pd;
        } finally {
            dnnl_primitive_attr_destroy(attr);
        }
    }

    /** The primitive of a descriptor, which it destroys. */
    private static Primitive finish(dnnl_primitive_desc pd, int... argIds) {
        return finish(pd, argIds, null, null);
    }

    /** As {@link #finish(dnnl_primitive_desc, int...)}, with reorders from and to the plain layouts given. */
    private static Primitive finish(dnnl_primitive_desc pd, int[] argIds, Layout[] plain, boolean[] outputs) {
        try {
            return new Primitive(pd, argIds, plain, outputs);
        } finally {
            dnnl_primitive_desc_destroy(pd);
        }
    }

    private static String key(String op, Layout[] layouts, Object... extra) {
        StringBuilder b = new StringBuilder(op);
        for (Layout l : layouts) {
            b.append(' ');
            if (l == null) {
                b.append('-');
            } else {
                l.appendTo(b);
            }
        }
        for (Object o : extra) {
            b.append(' ').append(o);
        }
        return b.toString();
    }

    /**
     * {@code dst = scale * (src x weights) + bias [+ addend] [+ sum * dst]} over the last two
     * dimensions, batched over the leading ones (rank 2 to 4, strides as given). Arguments at
     * execution: src, weights, [bias], dst, [addend].
     *
     * @param bias   null, or [1, n] (rank 2) / [1, 1, n] etc.: broadcast over rows
     * @param sum    0 to overwrite dst, 1 to accumulate into it
     * @param addend null, or a tensor broadcast to dst's shape and added after the product
     */
    static Primitive matmul(Layout src, Layout weights, Layout bias, Layout dst, float scale, float sum, Layout addend) {
        String key = key("matmul", new Layout[]{src, weights, bias, dst, addend}, scale, sum);
        return cached(key, () -> {
            dnnl_matmul_desc_t desc = new dnnl_matmul_desc_t();
            check(dnnl_matmul_desc_init(desc, src.desc(dnnl_f32), weights.desc(dnnl_f32),
                    bias == null ? null : bias.desc(dnnl_f32), dst.desc(dnnl_f32)), "matmul descriptor " + key);
            dnnl_primitive_attr attr = attributes(scale, sum, addend);
            dnnl_primitive_desc pd = primitiveDesc(desc, attr, null, "matmul " + key);
            List<Integer> ids = new ArrayList<>(List.of(DNNL_ARG_SRC, DNNL_ARG_WEIGHTS));
            if (bias != null) {
                ids.add(DNNL_ARG_BIAS);
            }
            ids.add(DNNL_ARG_DST);
            if (addend != null) {
                ids.add(DNNL_ARG_ATTR_MULTIPLE_POST_OP_BASE * ((sum != 0f ? 1 : 0) + 1) | DNNL_ARG_SRC_1);
            }
            return finish(pd, ids.stream().mapToInt(Integer::intValue).toArray());
        });
    }

    /** Softmax along {@code axis}, training mode (its output feeds a backward pass). Arguments: src, dst (may be the same). */
    static Primitive softmax(Layout data, int axis) {
        return cached(key("softmax", new Layout[]{data}, axis), () -> finish(softmaxForward(data, axis, false),
                DNNL_ARG_SRC, DNNL_ARG_DST));
    }

    /** Log-softmax along {@code axis}. Arguments: src, dst. */
    static Primitive logSoftmax(Layout data, int axis) {
        return cached(key("logsoftmax", new Layout[]{data}, axis), () -> finish(softmaxForward(data, axis, true),
                DNNL_ARG_SRC, DNNL_ARG_DST));
    }

    private static dnnl_primitive_desc softmaxForward(Layout data, int axis, boolean log) {
        dnnl_softmax_desc_t desc = new dnnl_softmax_desc_t();
        if (log) {
            check(dnnl_logsoftmax_forward_desc_init(desc, dnnl_forward_training, data.desc(dnnl_f32), axis), "logsoftmax");
        } else {
            check(dnnl_softmax_forward_desc_init(desc, dnnl_forward_training, data.desc(dnnl_f32), axis), "softmax");
        }
        return primitiveDesc(desc, userScratchpad(), null, "softmax " + data);
    }

    /** Softmax backward: {@code diffSrc = dst * (diffDst - rowsum(diffDst * dst))}. Arguments: dst, diff_dst, diff_src. */
    static Primitive softmaxBackward(Layout data, int axis) {
        return cached(key("softmax_bwd", new Layout[]{data}, axis), () -> {
            dnnl_primitive_desc hint = softmaxForward(data, axis, false);
            try {
                dnnl_softmax_desc_t desc = new dnnl_softmax_desc_t();
                check(dnnl_softmax_backward_desc_init(desc, data.desc(dnnl_f32), data.desc(dnnl_f32), axis), "softmax backward");
                return finish(primitiveDesc(desc, userScratchpad(), hint, "softmax backward " + data),
                        DNNL_ARG_DST, DNNL_ARG_DIFF_DST, DNNL_ARG_DIFF_SRC);
            } finally {
                dnnl_primitive_desc_destroy(hint);
            }
        });
    }

    /**
     * Layer normalisation over the last dimension of [rows, width] with gain and bias given together
     * as [2, width] (gain row, then bias row), biased variance, {@code eps} inside the square root
     * (PyTorch's LayerNorm). Arguments: src, scale-shift, dst, mean [rows], variance [rows].
     */
    static Primitive layerNorm(long rows, long width, float eps) {
        return cached(key("layernorm", new Layout[0], rows, width, eps), () -> {
            dnnl_primitive_desc pd = layerNormForward(rows, width, eps);
            return finish(pd, DNNL_ARG_SRC, DNNL_ARG_SCALE_SHIFT, DNNL_ARG_DST, DNNL_ARG_MEAN, DNNL_ARG_VARIANCE);
        });
    }

    private static dnnl_primitive_desc layerNormForward(long rows, long width, float eps) {
        dnnl_layer_normalization_desc_t desc = new dnnl_layer_normalization_desc_t();
        check(dnnl_layer_normalization_forward_desc_init(desc, dnnl_forward_training, Layout.dense(rows, width).desc(dnnl_f32),
                Layout.dense(rows).desc(dnnl_f32), eps, dnnl_use_scaleshift), "layer norm");
        return primitiveDesc(desc, userScratchpad(), null, "layer norm " + rows + "x" + width);
    }

    /**
     * Layer normalisation's backward. Arguments: src, diff_dst, mean, variance, scale-shift, diff_src,
     * diff_scale-shift [2, width] (overwritten, not accumulated).
     */
    static Primitive layerNormBackward(long rows, long width, float eps) {
        return cached(key("layernorm_bwd", new Layout[0], rows, width, eps), () -> {
            dnnl_primitive_desc hint = layerNormForward(rows, width, eps);
            try {
                dnnl_layer_normalization_desc_t desc = new dnnl_layer_normalization_desc_t();
                dnnl_memory_desc_t data = Layout.dense(rows, width).desc(dnnl_f32);
                check(dnnl_layer_normalization_backward_desc_init(desc, dnnl_backward, data, data,
                        Layout.dense(rows).desc(dnnl_f32), eps, dnnl_use_scaleshift), "layer norm backward");
                return finish(primitiveDesc(desc, userScratchpad(), hint, "layer norm backward"), DNNL_ARG_SRC, DNNL_ARG_DIFF_DST,
                        DNNL_ARG_MEAN, DNNL_ARG_VARIANCE, DNNL_ARG_SCALE_SHIFT, DNNL_ARG_DIFF_SRC, DNNL_ARG_DIFF_SCALE_SHIFT);
            } finally {
                dnnl_primitive_desc_destroy(hint);
            }
        });
    }

    /**
     * Batch normalisation of dense NCHW {@code [n, c, h, w]} in training mode: normalised with the batch's mean and
     * biased variance per channel, which it also writes; gamma and beta together as [2, c], {@code eps} inside the
     * square root (PyTorch's BatchNorm2d); runs on nChw16c when the channels allow (2.5-3x faster than oneDNN's plain
     * kernel here, reorders included). Arguments: src, scale-shift, dst, mean [c], variance [c].
     */
    static Primitive batchNorm(long[] nchw, float eps) {
        Layout plain = Layout.dense(nchw);
        return cached(key("batchnorm", new Layout[]{plain}, eps), () -> finish(batchNormForward(nchw, eps),
                new int[]{DNNL_ARG_SRC, DNNL_ARG_SCALE_SHIFT, DNNL_ARG_DST, DNNL_ARG_MEAN, DNNL_ARG_VARIANCE},
                new Layout[]{plain, null, plain, null, null}, new boolean[]{false, false, true, false, false}));
    }

    private static dnnl_primitive_desc batchNormForward(long[] nchw, float eps) {
        dnnl_batch_normalization_desc_t desc = new dnnl_batch_normalization_desc_t();
        check(dnnl_batch_normalization_forward_desc_init(desc, dnnl_forward_training, blocked(nchw), eps,
                dnnl_use_scaleshift), "batch norm");
        return primitiveDesc(desc, userScratchpad(), null, "batch norm " + Arrays.toString(nchw));
    }

    /** NCHW data in oneDNN's nChw16c blocking where the channels allow it (its vectorised batch norm), else plain. */
    private static dnnl_memory_desc_t blocked(long[] nchw) {
        if (nchw[1] % 16 != 0) {
            return Layout.dense(nchw).desc(dnnl_f32);
        }
        dnnl_memory_desc_t m = new dnnl_memory_desc_t();
        check(dnnl_memory_desc_init_by_tag(m, 4, nchw, dnnl_f32, dnnl_nChw16c), "nChw16c " + Arrays.toString(nchw));
        return m;
    }

    /**
     * Batch normalisation's backward through the batch statistics. Arguments: src, diff_dst, mean, variance,
     * scale-shift, diff_src, diff_scale-shift [2, c] (overwritten, not accumulated).
     */
    static Primitive batchNormBackward(long[] nchw, float eps) {
        return cached(key("batchnorm_bwd", new Layout[]{Layout.dense(nchw)}, eps), () -> {
            dnnl_primitive_desc hint = batchNormForward(nchw, eps);
            try {
                dnnl_batch_normalization_desc_t desc = new dnnl_batch_normalization_desc_t();
                dnnl_memory_desc_t data = blocked(nchw);
                check(dnnl_batch_normalization_backward_desc_init(desc, dnnl_backward, data, data, eps, dnnl_use_scaleshift),
                        "batch norm backward");
                Layout plain = Layout.dense(nchw);
                return finish(primitiveDesc(desc, userScratchpad(), hint, "batch norm backward"), new int[]{DNNL_ARG_SRC,
                        DNNL_ARG_DIFF_DST, DNNL_ARG_MEAN, DNNL_ARG_VARIANCE, DNNL_ARG_SCALE_SHIFT, DNNL_ARG_DIFF_SRC,
                        DNNL_ARG_DIFF_SCALE_SHIFT}, new Layout[]{plain, plain, null, null, null, plain, null},
                        new boolean[]{false, false, false, false, false, true, true});
            } finally {
                dnnl_primitive_desc_destroy(hint);
            }
        });
    }

    /**
     * A convolution, NCHW {@code src} and {@code dst}, weights [oc, ic, kh, kw], one stride and one padding for both
     * axes, in training mode (its backward follows). Arguments: src, weights, [bias [oc]], dst.
     */
    static Primitive convolution(long[] src, long[] weights, boolean bias, long[] dst, long stride, long padding) {
        return cached(key("conv", new Layout[]{Layout.dense(src), Layout.dense(weights), Layout.dense(dst)}, stride, padding,
                bias), () -> {
            Layout[] plain = {Layout.dense(src), Layout.dense(weights), Layout.dense(weights[0]), Layout.dense(dst)};
            dnnl_primitive_desc pd = convolutionForward(src, weights, bias, dst, stride, padding);
            return bias ? finish(pd, new int[]{DNNL_ARG_SRC, DNNL_ARG_WEIGHTS, DNNL_ARG_BIAS, DNNL_ARG_DST}, plain,
                    new boolean[]{false, false, false, true})
                    : finish(pd, new int[]{DNNL_ARG_SRC, DNNL_ARG_WEIGHTS, DNNL_ARG_DST},
                    new Layout[]{plain[0], plain[1], plain[3]}, new boolean[]{false, false, true});
        });
    }

    /** A convolution's input gradient, shapes as {@link #convolution}. Arguments: diff_dst, weights, diff_src. */
    static Primitive convolutionBackwardData(long[] src, long[] weights, long[] dst, long stride, long padding) {
        return cached(key("conv_bwd_data", new Layout[]{Layout.dense(src), Layout.dense(weights), Layout.dense(dst)}, stride,
                padding), () -> withHint(convolutionForward(src, weights, false, dst, stride, padding), hint -> {
            dnnl_convolution_desc_t desc = new dnnl_convolution_desc_t();
            check(dnnl_convolution_backward_data_desc_init(desc, dnnl_convolution_direct, any(src), any(weights), any(dst),
                    pair(stride), pair(padding), pair(padding)), "convolution backward data");
            return finish(primitiveDesc(desc, userScratchpad(), hint, "convolution backward data"),
                    new int[]{DNNL_ARG_DIFF_DST, DNNL_ARG_WEIGHTS, DNNL_ARG_DIFF_SRC},
                    new Layout[]{Layout.dense(dst), Layout.dense(weights), Layout.dense(src)}, new boolean[]{false, false, true});
        }));
    }

    /**
     * A convolution's weight (and bias) gradients, overwritten, shapes as {@link #convolution}. Arguments: src,
     * diff_dst, diff_weights, [diff_bias [oc]].
     */
    static Primitive convolutionBackwardWeights(long[] src, long[] weights, long[] dst, long stride, long padding,
                                                boolean bias) {
        return cached(key("conv_bwd_weights", new Layout[]{Layout.dense(src), Layout.dense(weights), Layout.dense(dst)},
                stride, padding, bias), () -> withHint(convolutionForward(src, weights, bias, dst, stride, padding), hint -> {
            dnnl_convolution_desc_t desc = new dnnl_convolution_desc_t();
            check(dnnl_convolution_backward_weights_desc_init(desc, dnnl_convolution_direct, any(src), any(weights),
                    bias ? Layout.dense(weights[0]).desc(dnnl_f32) : null, any(dst), pair(stride), pair(padding), pair(padding)),
                    "convolution backward weights");
            dnnl_primitive_desc pd = primitiveDesc(desc, userScratchpad(), hint, "convolution backward weights");
            Layout[] plain = {Layout.dense(src), Layout.dense(dst), Layout.dense(weights), Layout.dense(weights[0])};
            return bias ? finish(pd, new int[]{DNNL_ARG_SRC, DNNL_ARG_DIFF_DST, DNNL_ARG_DIFF_WEIGHTS, DNNL_ARG_DIFF_BIAS}, plain,
                    new boolean[]{false, false, true, true})
                    : finish(pd, new int[]{DNNL_ARG_SRC, DNNL_ARG_DIFF_DST, DNNL_ARG_DIFF_WEIGHTS}, Arrays.copyOf(plain, 3),
                    new boolean[]{false, false, true});
        }));
    }

    /** A backward primitive made with its forward descriptor as the hint, which is destroyed afterwards. */
    private static Primitive withHint(dnnl_primitive_desc hint, java.util.function.Function<dnnl_primitive_desc, Primitive> make) {
        try {
            return make.apply(hint);
        } finally {
            dnnl_primitive_desc_destroy(hint);
        }
    }

    /** The same value for both spatial axes. */
    private static long[] pair(long v) {
        return new long[]{v, v};
    }

    /**
     * A tensor of these dimensions in whatever layout the primitive prefers (PyTorch's and libnd4j's route to oneDNN's
     * blocked kernels; on plain NCHW oneDNN 2.5 falls back to a slower gemm-based convolution).
     */
    private static dnnl_memory_desc_t any(long[] dims) {
        dnnl_memory_desc_t m = new dnnl_memory_desc_t();
        check(dnnl_memory_desc_init_by_tag(m, dims.length, dims, dnnl_f32, dnnl_format_tag_any),
                "memory descriptor " + Arrays.toString(dims));
        return m;
    }

    private static dnnl_primitive_desc convolutionForward(long[] src, long[] weights, boolean bias, long[] dst, long stride,
                                                          long padding) {
        dnnl_convolution_desc_t desc = new dnnl_convolution_desc_t();
        check(dnnl_convolution_forward_desc_init(desc, dnnl_forward_training, dnnl_convolution_direct, any(src), any(weights),
                bias ? Layout.dense(weights[0]).desc(dnnl_f32) : null, any(dst), pair(stride), pair(padding), pair(padding)),
                "convolution");
        return primitiveDesc(desc, userScratchpad(), null, "convolution");
    }

    /** Copies between two layouts of one tensor. Arguments: from, to. */
    private static Primitive reorder(dnnl_memory_desc_t from, dnnl_memory_desc_t to) {
        dnnl_primitive_desc pd = new dnnl_primitive_desc();
        dnnl_primitive_attr attr = userScratchpad();
        try {
            check(dnnl_reorder_primitive_desc_create(pd, from, ENGINE, to, ENGINE, attr), "reorder");
        } finally {
            dnnl_primitive_attr_destroy(attr);
        }
        return finish(pd, DNNL_ARG_FROM, DNNL_ARG_TO);
    }

    /**
     * A ResNet basic block in evaluation mode, {@code relu(bn2(conv2(relu(bn1(conv1(x))))) + s(x))} with s the
     * identity or {@code bns(convs(x))} (1x1): two or three convolutions on the layouts oneDNN chooses, each batch norm
     * (running statistics, folded into a scale and shift per channel) and ReLU a post-op, the residual sum a sum
     * post-op into the shortcut's output. So the block reads x and writes y once each in NCHW, where the layer-by-layer
     * pass makes eleven passes over memory besides the convolutions and reorders each convolution's input and output.
     */
    static final class ResidualBlock implements Native {
        private final Primitive in;
        private final Primitive conv1;
        private final Primitive conv2;
        private final Primitive shortcut;
        private final Primitive out;
        private final long xBytes;
        private final long hBytes;
        private final long sBytes;

        private ResidualBlock(long[] x, long[] w1, long[] w2, long[] ws, long stride) {
            long[] h = {x[0], w1[0], (x[2] + 2 - 3) / stride + 1, (x[3] + 2 - 3) / stride + 1};
            dnnl_primitive_desc pd1 = scaledConvolution(any(x), w1, any(h), stride, 1, false, true);
            dnnl_primitive_desc pdS = null;
            dnnl_primitive_desc pd2 = null;
            try {
                dnnl_memory_desc_t xd = dnnl_primitive_desc_query_md(pd1, dnnl_query_src_md, 0);
                dnnl_memory_desc_t hd = dnnl_primitive_desc_query_md(pd1, dnnl_query_dst_md, 0);
                dnnl_memory_desc_t yd = xd;
                if (ws != null) {
                    pdS = scaledConvolution(xd, ws, any(h), stride, 0, false, false);
                    yd = dnnl_primitive_desc_query_md(pdS, dnnl_query_dst_md, 0);
                }
                pd2 = scaledConvolution(hd, w2, yd, 1, 1, true, true);
                xBytes = dnnl_memory_desc_get_size(xd);
                hBytes = dnnl_memory_desc_get_size(hd);
                sBytes = ws == null ? 0 : dnnl_memory_desc_get_size(yd);
                // Always a copy in: with the identity shortcut the block's output overwrites it.
                in = reorder(Layout.dense(x).desc(dnnl_f32), xd);
                out = reorder(yd, Layout.dense(h).desc(dnnl_f32));
                conv1 = scaledConvolution(pd1, w1);
                shortcut = pdS == null ? null : scaledConvolution(pdS, ws);
                conv2 = scaledConvolution(pd2, w2);
            } finally {
                dnnl_primitive_desc_destroy(pd1);
                if (pdS != null) {
                    dnnl_primitive_desc_destroy(pdS);
                }
                if (pd2 != null) {
                    dnnl_primitive_desc_destroy(pd2);
                }
            }
        }

        /** Arguments: x, w1, scale1, shift1, w2, scale2, shift2, [ws, scales, shifts], y. */
        void exec(INDArray... a) {
            Context c = CONTEXT.get();
            // Slots above any primitive's own argument slots (1..5 here).
            long x = c.buffer(8, xBytes);
            long h = c.buffer(9, hBytes);
            long y = shortcut == null ? x : c.buffer(10, sBytes);
            in.exec(address(a[0]), x);
            conv1.exec(x, address(a[1]), h, address(a[2]), address(a[3]));
            if (shortcut != null) {
                shortcut.exec(x, address(a[7]), y, address(a[8]), address(a[9]));
            }
            conv2.exec(h, address(a[4]), y, address(a[5]), address(a[6]));
            out.exec(y, address(a[a.length - 1]));
        }

        @Override
        public void destroy() {
            for (Primitive p : new Primitive[]{in, conv1, shortcut, conv2, out}) {
                if (p != null) {
                    p.destroy();
                }
            }
        }
    }

    /** The block for these shapes (NCHW input; weights [oc, ic, k, k]; {@code ws} null for the identity shortcut). */
    static ResidualBlock residualBlock(long[] x, long[] w1, long[] w2, long[] ws, long stride) {
        return cached(key("residual_block", new Layout[]{Layout.dense(x), Layout.dense(w1), Layout.dense(w2),
                ws == null ? null : Layout.dense(ws)}, stride), () -> new ResidualBlock(x, w1, w2, ws, stride));
    }

    /**
     * An inference convolution without bias whose output is multiplied and shifted per channel, then with {@code sum}
     * added to what dst holds, then with {@code relu} passed through ReLU; {@code src} and {@code dst} are layouts
     * (possibly {@link #any}).
     */
    private static dnnl_primitive_desc scaledConvolution(dnnl_memory_desc_t src, long[] weights, dnnl_memory_desc_t dst,
                                                         long stride, long padding, boolean sum, boolean relu) {
        dnnl_convolution_desc_t desc = new dnnl_convolution_desc_t();
        check(dnnl_convolution_forward_desc_init(desc, dnnl_forward_inference, dnnl_convolution_direct, src, any(weights), null,
                dst, pair(stride), pair(padding), pair(padding)), "convolution");
        dnnl_primitive_attr attr = userScratchpad();
        dnnl_post_ops ops = new dnnl_post_ops();
        check(dnnl_post_ops_create(ops), "post-ops");
        dnnl_memory_desc_t perChannel = Layout.dense(1, weights[0], 1, 1).desc(dnnl_f32);
        check(dnnl_post_ops_append_binary(ops, dnnl_binary_mul, perChannel), "scale post-op");
        check(dnnl_post_ops_append_binary(ops, dnnl_binary_add, perChannel), "shift post-op");
        if (sum) {
            check(dnnl_post_ops_append_sum(ops, 1f), "sum post-op");
        }
        if (relu) {
            check(dnnl_post_ops_append_eltwise(ops, 1f, dnnl_eltwise_relu, 0f, 0f), "relu post-op");
        }
        check(dnnl_primitive_attr_set_post_ops(attr, ops), "set post-ops");
        dnnl_post_ops_destroy(ops);
        return primitiveDesc(desc, attr, null, "scaled convolution");
    }

    /** Arguments: src, weights (plain, reordered), dst, scale, shift. */
    private static Primitive scaledConvolution(dnnl_primitive_desc pd, long[] weights) {
        return new Primitive(pd, new int[]{DNNL_ARG_SRC, DNNL_ARG_WEIGHTS, DNNL_ARG_DST,
                DNNL_ARG_ATTR_MULTIPLE_POST_OP_BASE | DNNL_ARG_SRC_1, 2 * DNNL_ARG_ATTR_MULTIPLE_POST_OP_BASE | DNNL_ARG_SRC_1},
                new Layout[]{null, Layout.dense(weights), null, null, null}, new boolean[5]);
    }

    /** An elementwise op ({@code dnnl_eltwise_*}) with its alpha and beta. Arguments: src, dst (may be the same). */
    static Primitive eltwise(int algorithm, float alpha, float beta, Layout data) {
        return cached(key("eltwise", new Layout[]{data}, algorithm, alpha, beta), () -> {
            dnnl_primitive_desc pd = eltwiseForward(algorithm, alpha, beta, data);
            return finish(pd, DNNL_ARG_SRC, DNNL_ARG_DST);
        });
    }

    private static dnnl_primitive_desc eltwiseForward(int algorithm, float alpha, float beta, Layout data) {
        dnnl_eltwise_desc_t desc = new dnnl_eltwise_desc_t();
        check(dnnl_eltwise_forward_desc_init(desc, dnnl_forward_training, algorithm, data.desc(dnnl_f32), alpha, beta), "eltwise");
        return primitiveDesc(desc, userScratchpad(), null, "eltwise " + algorithm);
    }

    /** An elementwise op's backward from its input. Arguments: src (the forward input), diff_dst, diff_src. */
    static Primitive eltwiseBackward(int algorithm, float alpha, float beta, Layout data) {
        return cached(key("eltwise_bwd", new Layout[]{data}, algorithm, alpha, beta), () -> {
            dnnl_primitive_desc hint = eltwiseForward(algorithm, alpha, beta, data);
            try {
                dnnl_eltwise_desc_t desc = new dnnl_eltwise_desc_t();
                check(dnnl_eltwise_backward_desc_init(desc, algorithm, data.desc(dnnl_f32), data.desc(dnnl_f32), alpha, beta),
                        "eltwise backward");
                return finish(primitiveDesc(desc, userScratchpad(), hint, "eltwise backward"), DNNL_ARG_SRC, DNNL_ARG_DIFF_DST,
                        DNNL_ARG_DIFF_SRC);
            } finally {
                dnnl_primitive_desc_destroy(hint);
            }
        });
    }

    /**
     * {@code dst = src * scale + shift} per channel of dense NCHW {@code [n, c, h, w]}, scale and shift [c] each: one
     * pass (batch normalisation with given statistics folded into it). Arguments: src, scale, dst, shift.
     */
    static Primitive channelAffine(long[] nchw) {
        return cached(key("channel_affine", new Layout[]{Layout.dense(nchw)}), () -> {
            Layout perChannel = Layout.dense(1, nchw[1], 1, 1);
            dnnl_binary_desc_t desc = new dnnl_binary_desc_t();
            dnnl_memory_desc_t data = Layout.dense(nchw).desc(dnnl_f32);
            check(dnnl_binary_desc_init(desc, dnnl_binary_mul, data, perChannel.desc(dnnl_f32), data), "binary mul");
            return finish(primitiveDesc(desc, attributes(1f, 0f, perChannel), null, "channel affine"), DNNL_ARG_SRC_0,
                    DNNL_ARG_SRC_1, DNNL_ARG_DST, DNNL_ARG_ATTR_MULTIPLE_POST_OP_BASE | DNNL_ARG_SRC_1);
        });
    }

    /** {@code dst = a + b} elementwise over dense arrays of one shape. Arguments: a, b, dst (may be a or b). */
    static Primitive add(long length) {
        return cached(key("add", new Layout[0], length), () -> {
            dnnl_binary_desc_t desc = new dnnl_binary_desc_t();
            dnnl_memory_desc_t data = Layout.dense(length).desc(dnnl_f32);
            check(dnnl_binary_desc_init(desc, dnnl_binary_add, data, data, data), "binary add");
            return finish(primitiveDesc(desc, userScratchpad(), null, "binary add"), DNNL_ARG_SRC_0, DNNL_ARG_SRC_1, DNNL_ARG_DST);
        });
    }

    /**
     * {@code out = a + b}: one oneDNN pass when all three are dense float arrays of one length (ND4J's
     * add took 0.4-0.6 ms for 1 MB here, mostly overhead), else ND4J's. Returns {@code out}.
     */
    static INDArray add(INDArray a, INDArray b, INDArray out) {
        if (usable(a, b, out) && dense(a) && dense(b) && dense(out) && a.length() == b.length() && a.length() == out.length()) {
            add(a.length()).exec(a, b, out);
            return out;
        }
        return a.add(b, out);
    }

    /** Row-major and contiguous: a plain oneDNN layout of its shape. */
    static boolean dense(INDArray a) {
        return a.ordering() == 'c' && a.elementWiseStride() == 1;
    }

    private static dnnl_primitive_attr userScratchpad() {
        return attributes(1f, 0f, null);
    }

    private static void check(int status, String what) {
        if (status != dnnl_success) {
            throw new IllegalStateException("oneDNN: " + what + " failed (status " + status + ")");
        }
    }
}
