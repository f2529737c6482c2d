package org.fslspark.transport;

import java.lang.invoke.MethodHandles;
import java.lang.invoke.VarHandle;
import java.nio.ByteOrder;

/** Little-endian ints, shorts and floats in byte arrays: the codecs' inner loops, without a ByteBuffer per call. */
final class LittleEndian {
    private static final VarHandle INT = MethodHandles.byteArrayViewVarHandle(int[].class, ByteOrder.LITTLE_ENDIAN);
    private static final VarHandle SHORT = MethodHandles.byteArrayViewVarHandle(short[].class, ByteOrder.LITTLE_ENDIAN);

    private LittleEndian() {
    }

    static int getInt(byte[] b, int at) {
        return (int) INT.get(b, at);
    }

    static void putInt(byte[] b, int at, int v) {
        INT.set(b, at, v);
    }

    static float getFloat(byte[] b, int at) {
        return Float.intBitsToFloat(getInt(b, at));
    }

    static void putFloat(byte[] b, int at, float v) {
        putInt(b, at, Float.floatToRawIntBits(v));
    }

    static int getShort(byte[] b, int at) {
        return (short) SHORT.get(b, at) & 0xFFFF;
    }

    static void putShort(byte[] b, int at, int v) {
        SHORT.set(b, at, (short) v);
    }
}
