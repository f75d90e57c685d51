pub fn f32_to_f16(x: f32) -> u16 {
    half::f16::from_f32(x).to_bits()
}
pub fn f16_to_f32(x: u16) -> f32 {
    half::f16::from_bits(x).to_f32()
}
