package org.fslspark.transport;

import java.io.IOException;
import java.io.Serializable;

/**
 * How a float tensor's values travel: the bytes a frame carries for them and back. Each codec is a
 * small value class with a config name ({@link #parse}) and a dtype byte in the tensor header
 * ({@link #code}); docs/CODECS.md gives each one's byte count and error bound.
 *
 * <p>Encoding refuses NaN and ±Inf (and values a codec's range cannot hold) with a
 * {@link NonFiniteValueException}, since the receiver would refuse them anyway, except
 * {@link Float32Codec}, which writes what it is given as the channel always has (the receiver refuses
 * it). Decoding reads untrusted bytes: every count and parameter is checked before anything is
 * allocated for it ({@link FrameInput}), and the decoded values are checked finite by the reader.
 */
public sealed interface Codec extends Serializable
        permits Float32Codec, Float16Codec, BFloat16Codec, Int8Codec, TopKCodec {

    /** The dtype byte of a tensor encoded with this codec (1 is int32, for labels and control). */
    int code();

    /** The config name: float32, float16, bfloat16, int8, int8:sample or topk:F. */
    String name();

    /** Bytes of the encoded values of a tensor of {@code shape}: the tensor's payload on the wire. */
    long payloadBytes(long[] shape);

    /**
     * Writes the encoding of {@code values} (a tensor of {@code shape}) into {@code out} from {@code offset}:
     * exactly {@link #payloadBytes} bytes.
     *
     * @throws NonFiniteValueException on a value it cannot send (its kind and sequence are the frame's to add)
     */
    void encode(float[] values, long[] shape, byte[] out, int offset);

    /** Reads the encoded values of a tensor of {@code shape} ({@code elements} values, checked against the caps). */
    float[] decode(FrameInput in, long[] shape, int elements) throws IOException;

    /** The codec a config value names; the message names what is allowed. */
    static Codec parse(String name) {
        String n = name.trim();
        if (n.startsWith("topk:")) {
            float fraction;
            try {
                fraction = Float.parseFloat(n.substring("topk:".length()));
            } catch (NumberFormatException e) {
                throw new IllegalArgumentException("topk:F needs a fraction F in (0, 0.5], got '" + n + "'");
            }
            return new TopKCodec(fraction);
        }
        return switch (n) {
            case "float32" -> Float32Codec.INSTANCE;
            case "float16" -> Float16Codec.INSTANCE;
            case "bfloat16" -> BFloat16Codec.INSTANCE;
            case "int8" -> Int8Codec.INSTANCE;
            case "int8:sample" -> Int8Codec.PER_SAMPLE;
            default -> throw new IllegalArgumentException("unknown codec '" + n + "'; one of float32, float16, bfloat16, int8, int8:sample, topk:F");
        };
    }

    /** Whether a dtype byte is a float codec's (1 is int32; top-k's fraction follows in its payload). */
    static boolean isFloatCode(int code) {
        return code == 0 || code >= 2 && code <= 6;
    }

    /** Number of values of a shape. */
    static long elements(long[] shape) {
        long n = 1;
        for (long d : shape) {
            n *= d;
        }
        return n;
    }

    /** The refusal of a value a codec cannot send. */
    static NonFiniteValueException unsendable(String codec, int index, float value, String why) {
        return new NonFiniteValueException("refused to send value " + value + " at index " + index + " as " + codec + ": " + why,
                null, -1);
    }
}
