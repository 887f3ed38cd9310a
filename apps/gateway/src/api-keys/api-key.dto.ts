import { ApiProperty } from '@nestjs/swagger';
import { ArrayMinSize, ArrayUnique, IsArray, IsIn, IsString, Length } from 'class-validator';
import { SCOPES, type Scope } from '../common/auth/scope.js';
import type { ApiKeyEntity } from './api-key.entity.js';

export class CreateApiKeyDto {
  @ApiProperty({ example: 'billing-service' })
  @IsString()
  @Length(1, 100)
  name: string;

  @ApiProperty({ enum: SCOPES, isArray: true, example: ['subscribe'] })
  @IsArray()
  @ArrayMinSize(1)
  @ArrayUnique()
  @IsIn(SCOPES, { each: true })
  scopes: Scope[];
}

export class ApiKeyDto {
  @ApiProperty() id: string;
  @ApiProperty() name: string;
  @ApiProperty({ enum: SCOPES, isArray: true }) scopes: Scope[];
  @ApiProperty({ description: 'The first characters of the token' }) tokenPrefix: string;
  @ApiProperty() createdAt: string;
}

export class CreatedApiKeyDto extends ApiKeyDto {
  @ApiProperty({ description: 'The full token; shown only in this response' })
  token: string;
}

export function mapApiKey(key: ApiKeyEntity): ApiKeyDto {
  return {
    id: key.id,
    name: key.name,
    scopes: key.scopes as Scope[],
    tokenPrefix: key.tokenPrefix,
    createdAt: key.createdAt.toISOString(),
  };
}
